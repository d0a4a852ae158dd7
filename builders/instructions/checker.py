"""The checker: every number and every claimed event of a pair re-derived from the facts.

A pair passes when ``check_pair`` returns no problem. The rules, applied to the instruction and the
response (templated or written by a teacher):

- **Scope**: a sentence speaks of the row's own clip until a backticked clip id (`` `id` ``) switches
  it to that clip, and "this clip" / "this recording" / "here" switch it back. An id that is not a
  clip of the build is a problem.
- **Numbers**: every number must carry a known unit (m/s², m/s³, rad/s, s, Hz, °, cycles/min). It
  is compared with the facts of its scope that have that unit, narrowed by the nearest topic word
  of its sentence (before it, else after it: "free fall", "impact", "|accel|", "rotation", ...) and, for
  rad/s, by an axis right before it ("z 1.20 rad/s", "|gz| 0.57 rad/s"). It passes when one
  candidate, formatted with the number's own decimals, gives the same text. A bare number fails,
  so a teacher cannot slip in an invented count or threshold.
- **Axes**: an axis claim ("about the z axis", "the x axis") not labelling a number must be the
  dominant rotation axis in a rotation sentence, the peak-|accel| axis in a peak/impact sentence.
- **Events**: "free fall", "impact" and "still/stillness/motionless/at rest" claim that the event
  happened in the scope's clip; after "no", "not", "without", "nor" they claim that it did not.
  Sentences with "would", "could", "might" or "if" are counterfactual: their events are not claims
  (their numbers still are).
- **Order**: two events in one sentence are in time order unless joined by "after" (not "after
  which/that/this"), "preceded by" or "following", which reverse it; a sentence starting with
  "Then"/"Afterwards"/"After that"/"Next"/"Finally" continues the previous sentence's last event.
- **Comparisons**: "higher/lower/longer/shorter/... than" compares the numbers on either side.
- **Labels**: ``hazard "x"`` and ``activity "x"`` must be the scope's labels; "is safe"/"is unsafe",
  "(safe" / "(unsafe" and a response opening with "Safe"/"Unsafe" must match ``safe``.

The numbers are formatted by ``fmt`` (``templates`` uses the same function), so the rounding of
the text is the rounding the checker re-derives. A teacher's rewrite must also keep every number,
clip id and quoted label of its draft (``keeps_draft``).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from .facts import AXES, FACT_FIELDS

#: unit key -> (text unit, decimals used by the templates)
UNITS: dict[str, tuple[str, int]] = {
    "ms2": ("m/s²", 1), "ms3": ("m/s³", 0), "rads": ("rad/s", 2), "s": ("s", 2),
    "hz": ("Hz", 1), "deg": ("°", 0), "per_min": ("cycles/min", 0),
}
_FIELD_UNIT = {"m/s^2": "ms2", "m/s^3": "ms3", "rad/s": "rads", "s": "s", "Hz": "hz", "deg": "deg",
               "1/min": "per_min"}
#: fact field -> unit key (fields with a unit only)
FIELD_UNITS: dict[str, str] = {k: _FIELD_UNIT[u] for k, (_, u, _) in FACT_FIELDS.items() if u in _FIELD_UNIT}


def fmt(value: float, unit: str, decimals: int | None = None) -> str:
    """``value`` as the text writes it: ``fmt(12.345, "ms2") == "12.3 m/s²"``; ``°`` without a space."""
    text, default = UNITS[unit]
    number = f"{value:.{default if decimals is None else decimals}f}"
    if number.startswith("-") and float(number) == 0:
        number = number[1:]
    return number + text if unit == "deg" else f"{number} {text}"


@dataclass(frozen=True)
class ClipInfo:
    """What the checker knows of one clip: its labels and its facts (``facts.FACT_FIELDS``)."""

    id: str
    hazard: str
    activity: str
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def safe(self) -> bool:
        return self.hazard == "none"


_NUM = r"(?<![\w.])(-?\d+(?:\.\d+)?)"
_UNIT_RE = (r"\s*(?P<unit>m/s(?:²|\^2|2)|m/s(?:³|\^3|3)|rad/s|cycles/min|per minute|/min|Hz|°|"
            r"degrees?\b|deg\b|seconds?\b|s\b)")
_UNIT_KEY = {"m/s²": "ms2", "m/s^2": "ms2", "m/s2": "ms2", "m/s³": "ms3", "m/s^3": "ms3", "m/s3": "ms3",
             "rad/s": "rads", "cycles/min": "per_min", "per minute": "per_min", "/min": "per_min",
             "Hz": "hz", "°": "deg", "degree": "deg", "degrees": "deg", "deg": "deg",
             "second": "s", "seconds": "s", "s": "s"}
_ID_RE = re.compile(r"`([^`]+)`")

#: Topic -> the fact fields a number near it may state.
_TOPIC_KEYS: dict[str, tuple[str, ...]] = {
    "free_fall": ("free_fall_s", "free_fall_start_s", "free_fall_first_s", "min_accel_ms2"),
    "impact": ("impact_ms2", "impact_time_s", "impact_jerk_ms3"),
    "jerk": ("impact_jerk_ms3",),
    "still": ("still_after_impact_s", "still_start_s"),
    "tilt": ("tilt_change_deg",),
    "rms": ("rms_accel_ms2", "rms_before_ms2", "rms_during_ms2", "rms_after_ms2"),
    "min": ("min_accel_ms2",),
    "gyro": ("peak_gyro_rads", "peak_gyro_time_s", *(f"gyro_{s}_{a}_rads" for s in ("peak", "mean") for a in AXES)),
    "peak": ("peak_accel_ms2", "peak_accel_time_s"),
    "freq": ("dominant_freq_hz",),
    "cadence": ("cadence_per_min",),
    "clip": ("duration_s", "sample_rate_hz"),
    "event": ("event_start_s", "event_end_s"),
}
#: One pass over a sentence finds every token (group name -> what it is): clip ids, "this clip",
#: names that look like numbers, numbers with their unit, axes, and topic words, the words that
#: also claim an event marked ``ev_``.
_WORDS: list[tuple[str, str]] = [
    ("ev_free_fall", r"free[- ]?fall"), ("t_free_fall", r"weightless"),
    ("ev_impact", r"\bimpact"), ("t_impact", r"landing"), ("t_jerk", r"\bjerk"),
    ("ev_still", r"\bstill(?:ness)?\b|motionless|at rest\b"), ("t_still", r"\brests?\b"),
    ("t_tilt", r"tilt|gravity direction|orientation"), ("t_rms", r"\brms\b|energy|intensity"),
    ("t_min", r"minimum|lowest|smallest|drops? to|dips? to"),
    ("t_gyro", r"rotat|angular|gyro|spin|twist|\|w\||\|ω\|"),
    ("t_peak", r"\|a(?:ccel)?\||specific force"), ("t_freq", r"frequen|periodic|oscillat|rhythm"),
    ("t_cadence", r"cadence"), ("t_clip", r"\bclip\b|recording|duration|sampled|sample rate"),
    ("t_event", r"\bevent\b"),
]
#: Every character a token can start with (case-insensitive: first letters of ``_WORDS`` and of
#: the words above). A position with another character starts no token: the lookahead skips it
#: without trying every alternative (the tokens are the same; 1.6x faster).
_FIRST_CHARS = r"[`\-\d|acdefghijlmoprstwxyz]"
_MASTER = re.compile(f"(?={_FIRST_CHARS})(?:" + "|".join([
    r"(?P<id>`[^`]+`)",
    r"(?P<primary>\bthis (?:clip|recording|signal|motion)\b|\bhere\b)",
    r"(?P<bare>\b[36]-axis\b|\b\d+-D\b|\bIMU\d*\b)",
    r"(?P<num>(?<![\w.])-?\d+(?:\.\d+)?)(?:" + _UNIT_RE + r")?",
    r"(?P<axis>(?<![\w|])\|?g?[xyz]\|?(?!\w))",
    *(f"(?P<{name}>{rx})" for name, rx in _WORDS),
]) + ")", re.I)
_UNIT_KEY_LOWER = {k.lower(): v for k, v in _UNIT_KEY.items()}
_NEGATION = re.compile(r"\b(?:no|not|without|never|nor|absence of|lacks?|neither)\s+(?:[\w|-]+\s+){0,2}$", re.I)
_HYPOTHETICAL = re.compile(r"\b(would|could|might|if)\b", re.I)
_REVERSE = re.compile(r"\bafter\b(?!\s+(?:which|that|this|it))|preceded by|\bfollowing\b", re.I)
_FORWARD = re.compile(r"\bthen\b|followed by|after (?:which|that|this|it)|\bbefore\b|\blater\b|\bnext\b|"
                      r"leading to|\buntil\b", re.I)
_CONTINUES = re.compile(r"^\s*(then|afterwards|after that|next|finally)\b", re.I)
_COMPARE = re.compile(r"\b(higher|lower|longer|shorter|stronger|weaker|faster|slower|more|less|"
                      r"larger|smaller|greater)\s+than\b", re.I)
_UP_WORDS = {"higher", "longer", "stronger", "faster", "more", "larger", "greater"}
_HAZARD_RE = re.compile(r'\bhazard\s*:?\s*"([^"]*)"', re.I)
_ACTIVITY_RE = re.compile(r'\bactivity\s*:?\s*"([^"]*)"', re.I)
_VERDICT_RE = re.compile(r"\bis (?:(not) )?(unsafe|safe)\b|\((unsafe|safe)\b|^\s*(unsafe|safe)\b", re.I)


def _sentences(text: str) -> list[str]:
    """Split on . ! ? followed by a space or the end, but not inside numbers."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z`\"(|])|\n+", text.strip())
    return [p for p in parts if p.strip()]


@dataclass
class _Token:
    pos: int
    kind: str            # "scope" | "number" | "axis" | "event" | "topic"
    value: Any
    end: int = 0


@functools.lru_cache(maxsize=1 << 14)
def _raw_tokens(sentence: str) -> tuple[tuple[str, int, int, Any], ...]:
    """(kind, start, end, value) of every token of a sentence, whatever clip it speaks of (kinds:
    "id", "primary", "number", "axis", "gyro_axis" (an axis that is a rotation word too: "gx"),
    "event", "topic"). Cached: templated texts repeat many sentences (instructions, causes)."""
    out: list[tuple[str, int, int, Any]] = []
    for m in _MASTER.finditer(sentence):
        kind, a, b = m.lastgroup, m.start(), m.end()
        if kind == "unit":  # the unit group closes a number match
            kind = "num"
        if kind == "id":
            out.append(("id", a, b, m.group("id")[1:-1]))
        elif kind == "primary":
            out.append(("primary", a, b, None))
        elif kind == "num":
            unit = m.group("unit")
            out.append(("number", a, b, (m.group("num"), _UNIT_KEY_LOWER[unit.lower()] if unit else None)))
        elif kind == "axis":
            text = m.group("axis")
            out.append(("axis", a, b, text.strip("|")[-1].lower()))
            if "g" in text.lower():  # "gx", "|gx|": a rotation word too
                out.append(("topic", a, b, "gyro"))
        elif kind.startswith("ev_"):
            out.append(("event", a, b, {"ev_still": "stillness"}.get(kind, kind[3:])))
            out.append(("topic", a, b, {"ev_still": "still"}.get(kind, kind[3:])))
        elif kind.startswith("t_"):
            out.append(("topic", a, b, kind[2:]))
    return tuple(out)


def _tokens(sentence: str, primary: str, known: Mapping[str, ClipInfo], problems: list[str]) -> list[_Token]:
    toks: list[_Token] = []
    for kind, a, b, value in _raw_tokens(sentence):
        if kind == "id":
            if value not in known:
                problems.append(f"unknown clip id `{value}`")
            toks.append(_Token(a, "scope", value, b))
        elif kind == "primary":
            toks.append(_Token(a, "scope", primary, b))
        else:
            toks.append(_Token(a, kind, value, b))
    return toks


def _matches(number: str, value: Any) -> bool:
    """Whether ``value`` rounded to the decimals of ``number`` reads ``number``."""
    if value is None:
        return False
    decimals = len(number.split(".")[1]) if "." in number else 0
    text = f"{float(value):.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text == number


#: unit key -> the fact fields with that unit (in ``FIELD_UNITS`` order).
_WITH_UNIT: dict[str, list[str]] = {u: [k for k, ku in FIELD_UNITS.items() if ku == u] for u in UNITS}
#: (topic, unit key) -> the topic's fields with that unit (empty: the topic states no such number).
_TOPIC_UNIT: dict[tuple[str, str], list[str]] = {
    (t, u): [k for k in keys if k in _WITH_UNIT[u]] for t, keys in _TOPIC_KEYS.items() for u in UNITS}


def _event_happened(facts: Mapping[str, Any], event: str) -> bool:
    if event == "free_fall":
        return bool(facts.get("free_fall_count"))
    if event == "impact":
        return facts.get("impact_ms2") is not None
    return bool(facts.get("still_after_impact_s"))


def _event_time(facts: Mapping[str, Any], event: str) -> float | None:
    return {"free_fall": facts.get("free_fall_start_s"), "impact": facts.get("impact_time_s"),
            "stillness": facts.get("still_start_s")}[event]


def check_text(text: str, clip: ClipInfo, known: Mapping[str, ClipInfo], claims: bool = True) -> list[str]:
    """Problems of one text about ``clip`` (empty when every claim holds). ``known``: id -> ClipInfo
    of every clip of the build the text may name (``clip`` included). ``claims=False`` (an
    instruction) checks ids and numbers only: a question claims no event or label."""
    if known.get(clip.id) is not clip:  # (no copy of a build's every clip when it is there)
        known = {**known, clip.id: clip}
    problems: list[str] = []
    last_event: tuple[str, str] | None = None  # (scope, event) of the previous sentence's last event
    for sentence in _sentences(text):
        hypothetical = bool(_HYPOTHETICAL.search(sentence)) or not claims
        toks = _tokens(sentence, clip.id, known, problems)
        scope = clip.id
        scoped: list[tuple[_Token, str]] = []
        for t in toks:
            if t.kind == "scope":
                scope = t.value if t.value in known else scope
            else:
                scoped.append((t, scope))
        topics = [t for t, _ in scoped if t.kind == "topic"]
        numbers = [(t, s) for t, s in scoped if t.kind == "number"]
        axes = [(t, s) for t, s in scoped if t.kind == "axis"]
        labelled_axes: set[int] = set()
        # numbers
        for t, s in numbers:
            value, unit = t.value
            if unit is None:
                problems.append(f"number {value} without a unit in {sentence!r}")
                continue
            facts = known[s].facts
            cands = _WITH_UNIT[unit]
            before = [p for p in topics if p.pos < t.pos and _TOPIC_UNIT[p.value, unit]]
            after = [p for p in topics if p.pos > t.pos and _TOPIC_UNIT[p.value, unit]]
            topic = before[-1] if before else (after[0] if after else None)
            if topic is not None:
                cands = _TOPIC_UNIT[topic.value, unit]
            if unit == "rads":
                ax = [a for a, _ in axes if a.end <= t.pos and t.pos - a.end <= 12
                      and not any(n.pos > a.end and n.pos < t.pos for n, _ in numbers)]
                if ax:
                    labelled_axes.add(ax[-1].pos)
                    cands = [f"gyro_peak_{ax[-1].value}_rads", f"gyro_mean_{ax[-1].value}_rads"]
            if not any(_matches(value, facts.get(k)) for k in cands):
                got = ", ".join(f"{k}={facts.get(k)!r}" for k in cands)
                problems.append(f"{value} {UNITS[unit][0]} matches no fact of `{s}` ({got})")
        # axis claims
        for a, s in axes:
            if a.pos in labelled_axes:
                continue
            facts = known[s].facts
            before = [p for p in topics if p.pos < a.pos and p.value in ("gyro", "peak", "impact")]
            after = [p for p in topics if p.pos > a.pos and p.value in ("gyro", "peak", "impact")]
            topic = before[-1].value if before else (after[0].value if after else None)
            allowed = {"gyro": {facts.get("gyro_dominant_axis")},
                       "peak": {facts.get("peak_accel_axis")}, "impact": {facts.get("peak_accel_axis")},
                       None: {facts.get("gyro_dominant_axis"), facts.get("peak_accel_axis")}}[topic]
            if a.value not in allowed:
                problems.append(f"axis {a.value} claimed for {topic or 'the motion'} of `{s}`, facts say "
                                f"{sorted(x for x in allowed if x)}")
        # events
        claimed: list[tuple[_Token, str]] = []
        for t, s in scoped:
            if t.kind != "event" or hypothetical:
                continue
            negated = bool(_NEGATION.search(sentence[:t.pos]))
            happened = _event_happened(known[s].facts, t.value)
            if negated and happened:
                problems.append(f"denies the {t.value} of `{s}`, which the facts show")
            elif not negated and not happened:
                problems.append(f"claims a {t.value} in `{s}`, which the facts do not show")
            elif not negated:
                claimed.append((t, s))
        # order
        pairs = []
        if claimed and last_event is not None and _CONTINUES.match(sentence):
            pairs.append((last_event, (claimed[0][1], claimed[0][0].value), False))
        for (t1, s1), (t2, s2) in zip(claimed, claimed[1:]):
            between = sentence[t1.end:t2.pos]
            if s1 != s2 or t1.value == t2.value:
                continue
            if _REVERSE.search(between):
                pairs.append(((s1, t1.value), (s2, t2.value), True))
            elif _FORWARD.search(between):
                pairs.append(((s1, t1.value), (s2, t2.value), False))
        for (sa, ea), (sb, eb), reverse in pairs:
            if sa != sb or ea == eb:
                continue
            ta, tb = _event_time(known[sa].facts, ea), _event_time(known[sb].facts, eb)
            if ta is None or tb is None:
                continue
            if (ta > tb) if not reverse else (tb > ta):
                first, second = (eb, ea) if reverse else (ea, eb)
                problems.append(f"says the {first} comes before the {second} in `{sa}`, but the facts "
                                f"put them at {ta:.2f} s and {tb:.2f} s")
        if claimed:
            last_event = (claimed[-1][1], claimed[-1][0].value)
        elif not _CONTINUES.match(sentence):
            last_event = None
        # comparisons
        for m in _COMPARE.finditer(sentence):
            left = [(t, s) for t, s in numbers if t.end <= m.start()]
            right = [(t, s) for t, s in numbers if t.pos >= m.end()]
            if left and right and left[-1][0].value[1] == right[0][0].value[1]:
                x, y = float(left[-1][0].value[0]), float(right[0][0].value[0])
                up = m.group(1).lower() in _UP_WORDS
                if (up and not x > y) or (not up and not x < y):
                    problems.append(f"'{m.group(0)}' compares {x:g} with {y:g}")
        # labels
        if not hypothetical:
            def scope_at(pos: int) -> str:
                prior = [t.value for t in toks if t.kind == "scope" and t.pos < pos and t.value in known]
                return prior[-1] if prior else clip.id

            for m in _HAZARD_RE.finditer(sentence):
                want = known[scope_at(m.start())].hazard
                if m.group(1).strip().replace(" ", "_") != want:
                    problems.append(f'hazard "{m.group(1)}" but `{scope_at(m.start())}` is {want!r}')
            for m in _ACTIVITY_RE.finditer(sentence):
                want = known[scope_at(m.start())].activity
                if m.group(1).strip() != want:
                    problems.append(f'activity "{m.group(1)}" but `{scope_at(m.start())}` is {want!r}')
            for m in _VERDICT_RE.finditer(sentence):
                negated = bool(m.group(1))
                word = next(g for g in m.groups()[1:] if g).lower()
                says_safe = (word == "safe") != negated
                who = known[scope_at(m.start())]
                if says_safe != who.safe:
                    problems.append(f"calls `{who.id}` {'safe' if says_safe else 'unsafe'}, its hazard is "
                                    f"{who.hazard!r}")
    return problems


def check_pair(pair: Mapping[str, str], clip: ClipInfo, known: Mapping[str, ClipInfo]) -> list[str]:
    """Problems of one ``{kind, instruction, response}`` pair about ``clip`` (empty = it passes).

    A classification response must also state the verdict, and for an unsafe clip name the hazard.
    """
    problems = check_text(pair["instruction"], clip, known, claims=False) + check_text(pair["response"], clip, known)
    if not pair["response"].strip():
        problems.append("empty response")
    if pair.get("kind") == "classification":
        first = _sentences(pair["response"])[:1]
        if not first or not _VERDICT_RE.search(first[0]):
            problems.append("classification response states no safe/unsafe verdict first")
        if not clip.safe and not re.search(rf'hazard\s*:?\s*"{re.escape(clip.hazard)}"', pair["response"]):
            problems.append(f"classification response does not name the hazard {clip.hazard!r}")
    return problems


_KEEP_RE = re.compile(_NUM + _UNIT_RE + r"|`[^`]+`|\b(?:hazard|activity)\s*:?\s*\"[^\"]*\"", re.I)


def _kept_tokens(text: str) -> Counter:
    out: Counter = Counter()
    for m in _KEEP_RE.finditer(text):
        if m.group(1) is not None:
            out[(m.group(1), _UNIT_KEY[m.group("unit")])] += 1
        elif m.group(0).startswith("`"):
            out[m.group(0)] += 1
        else:
            out[re.sub(r"^(hazard|activity)\s*:?\s*", r"\1 ", m.group(0).lower())] += 1
    return out


def keeps_draft(draft: str, answer: str) -> list[str]:
    """What a rewrite dropped from its draft: numbers with units, clip ids, quoted labels (empty =
    it kept them all). A teacher extends the templated answer; it may not thin it out."""
    missing = _kept_tokens(draft) - _kept_tokens(answer)
    return [f"drops {k[0]} {UNITS[k[1]][0]}" if isinstance(k, tuple) else f"drops {k}" for k in missing]
