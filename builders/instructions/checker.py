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

import bisect
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


def _first(chars: str, pattern: str, flags: int = re.I) -> re.Pattern:
    """``pattern`` behind a lookahead on ``chars``, a class of every character its matches can
    start with: the same matches, but a position starting with another character is passed at
    once (Python's ``re`` otherwise tries each alternative there; this pass is most of a build's
    instruction-pair cost)."""
    return re.compile(f"(?=[{chars}])(?:{pattern})", flags)


#: Every character a token can start with (case-insensitive: first letters of ``_WORDS`` and of
#: the words above).
_FIRST_CHARS = r"`\-\d|acdefghijlmoprstwxyz"
_MASTER = _first(_FIRST_CHARS, "|".join([
    r"(?P<id>`[^`]+`)",
    r"(?P<primary>\bthis (?:clip|recording|signal|motion)\b|\bhere\b)",
    r"(?P<bare>\b[36]-axis\b|\b\d+-D\b|\bIMU\d*\b)",
    r"(?P<num>(?<![\w.])-?\d+(?:\.\d+)?)(?:" + _UNIT_RE + r")?",
    r"(?P<axis>(?<![\w|])\|?g?[xyz]\|?(?!\w))",
    *(f"(?P<{name}>{rx})" for name, rx in _WORDS),
]))
_UNIT_KEY_LOWER = {k.lower(): v for k, v in _UNIT_KEY.items()}
# (each with the first characters of its alternatives)
_NEGATION = _first("nwal", r"\b(?:no|not|without|never|nor|absence of|lacks?|neither)\s+(?:[\w|-]+\s+){0,2}$")
_HYPOTHETICAL = _first("wcmi", r"\b(would|could|might|if)\b")
_REVERSE = _first("apf", r"\bafter\b(?!\s+(?:which|that|this|it))|preceded by|\bfollowing\b")
_FORWARD = _first("tfablnu", r"\bthen\b|followed by|after (?:which|that|this|it)|\bbefore\b|\blater\b|"
                  r"\bnext\b|leading to|\buntil\b")
_CONTINUES = re.compile(r"^\s*(then|afterwards|after that|next|finally)\b", re.I)
_COMPARE = _first("hlswfmg", r"\b(higher|lower|longer|shorter|stronger|weaker|faster|slower|more|less|"
                  r"larger|smaller|greater)\s+than\b")
_UP_WORDS = {"higher", "longer", "stronger", "faster", "more", "larger", "greater"}
_HAZARD_RE = _first("h", r'\bhazard\s*:?\s*"([^"]*)"')
_ACTIVITY_RE = _first("a", r'\bactivity\s*:?\s*"([^"]*)"')
_VERDICT_RE = _first("i(us\\s", r"\bis (?:(not) )?(unsafe|safe)\b|\((unsafe|safe)\b|^\s*(unsafe|safe)\b")
#: Where a text splits into sentences: after . ! ? before a capital, quote, bracket or bar; lines.
_SENTENCE_BREAK = _first("\\s", r"(?<=[.!?])\s+(?=[A-Z`\"(|])|\n+", 0)


def _sentences(text: str) -> list[str]:
    """Split on . ! ? followed by a space or the end, but not inside numbers."""
    parts = _SENTENCE_BREAK.split(text.strip())
    return [p for p in parts if p.strip()]


def _raw_tokens(sentence: str) -> tuple[tuple[str, int, int, Any], ...]:
    """(kind, start, end, value) of every token of a sentence, whatever clip it speaks of (kinds:
    "id", "primary", "number", "axis", "event", "topic"; an axis "gx" is a "gyro" topic too)."""
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


#: What ``_shape`` writes in a canonical form: a clip id (group 1; kept when it holds other
#: characters than these) or a number (group 2; kept after "^", "m/s^2" is a unit, and before "-",
#: "3-axis" and "6-D" are words).
_SHAPE_RE = re.compile(r"(`[^`]+`)|(?<![\w.^])(-?\d+(?:\.\d+)?)")
_PLAIN_ID = re.compile(r"`[\w.~+-]+`")


def _shape(sentence: str) -> tuple[str, list[int], list[int]]:
    """(shape, ends, shifts): ``sentence`` with each plain clip id written "`0`" and each number
    "0" or "0.0" (its sign kept), and where each rewritten span ends in the shape with the
    sentence's offset from there on. Ids and numbers keep their character classes and the tokens
    around them their neighbours, so every pattern of the checker matches the shape as it matches
    the sentence, at mapped places (``_real``): sentences of one template share a shape, whatever
    their numbers and clips, and with it a ``_Plan``."""
    parts: list[str] = []
    ends: list[int] = []
    shifts: list[int] = []
    last = shift = 0
    for m in _SHAPE_RE.finditer(sentence):
        text = m.group()
        if m.group(1) is not None:
            if not _PLAIN_ID.fullmatch(text):
                continue
            new = "`0`"
        elif sentence.startswith("-", m.end()):
            continue
        else:
            new = ("-0" if text[0] == "-" else "0") + (".0" if "." in text else "")
        parts.append(sentence[last:m.start()])
        parts.append(new)
        last = m.end()
        shift += len(text) - len(new)
        ends.append(m.end() - shift)
        shifts.append(shift)
    if not parts:
        return sentence, ends, shifts
    parts.append(sentence[last:])
    return "".join(parts), ends, shifts


def _real(pos: int, ends: list[int], shifts: list[int]) -> int:
    """The sentence position of shape position ``pos`` (a token boundary; ``_shape``)."""
    k = bisect.bisect_right(ends, pos)
    return pos + (shifts[k - 1] if k else 0)


@dataclass(frozen=True)
class _Plan:
    """What the checker reads from a sentence's shape alone (``_plan``); values (numbers, clip ids,
    labels) and distances are taken from the sentence at the mapped places, facts at check time.

    tokens: ``_raw_tokens`` of the shape. numbers: (token, number start, number end, unit key or
    None, candidate fields, (position, end, axis) of the axes before it with no number between,
    which label it when near enough). axes: (token, position, axis, topic) of every axis. events:
    (token, event, negated). order: (token, token) -> True (reversed: "after", "preceded by"),
    False (forward) for two events with an order word between them. compare: (left number token,
    right number token, "higher"-like, the words) with one unit on both sides. hazard / activity:
    (match start, label start, label end). verdict: (match start, negated, says safe).
    """

    tokens: tuple
    hypothetical: bool
    continues: bool
    numbers: tuple
    axes: tuple
    events: tuple
    order: dict
    compare: tuple
    hazard: tuple
    activity: tuple
    verdict: tuple


@functools.lru_cache(maxsize=1 << 14)
def _plan(shape: str) -> _Plan:
    """The text-only part of checking a sentence of this shape (``_Plan``)."""
    tokens = _raw_tokens(shape)
    items = [(k, t) for k, t in enumerate(tokens) if t[0] not in ("id", "primary")]
    topics = [t for _, t in items if t[0] == "topic"]
    numbers = [(k, t) for k, t in items if t[0] == "number"]
    axes = [(k, t) for k, t in items if t[0] == "axis"]
    plan_numbers = []
    for k, (_, pos, _, (text, unit)) in numbers:
        cands: list[str] | None = None
        near: tuple = ()
        if unit is not None:
            cands = _WITH_UNIT[unit]
            before = [p for p in topics if p[1] < pos and _TOPIC_UNIT[p[3], unit]]
            after = [p for p in topics if p[1] > pos and _TOPIC_UNIT[p[3], unit]]
            topic = before[-1] if before else (after[0] if after else None)
            if topic is not None:
                cands = _TOPIC_UNIT[topic[3], unit]
            if unit == "rads":
                near = tuple((a[1], a[2], a[3]) for _, a in axes if a[2] <= pos
                             and not any(n[1] > a[2] and n[1] < pos for _, n in numbers))
        plan_numbers.append((k, pos, pos + len(text), unit, tuple(cands) if cands is not None else None, near))
    plan_axes = []
    for k, (_, pos, _, axis) in axes:
        before = [p for p in topics if p[1] < pos and p[3] in ("gyro", "peak", "impact")]
        after = [p for p in topics if p[1] > pos and p[3] in ("gyro", "peak", "impact")]
        plan_axes.append((k, pos, axis, before[-1][3] if before else (after[0][3] if after else None)))
    events = [(k, t[3], bool(_NEGATION.search(shape[:t[1]]))) for k, t in items if t[0] == "event"]
    order = {}
    for i, (k1, _, _) in enumerate(events):
        for k2, _, _ in events[i + 1:]:
            between = shape[tokens[k1][2]:tokens[k2][1]]
            if _REVERSE.search(between):
                order[k1, k2] = True
            elif _FORWARD.search(between):
                order[k1, k2] = False
    compare = []
    for m in _COMPARE.finditer(shape):
        left = [(k, t) for k, t in numbers if t[2] <= m.start()]
        right = [(k, t) for k, t in numbers if t[1] >= m.end()]
        if left and right and left[-1][1][3][1] == right[0][1][3][1]:
            compare.append((left[-1][0], right[0][0], m.group(1).lower() in _UP_WORDS, m.group(0)))
    verdict = []
    for m in _VERDICT_RE.finditer(shape):
        word = next(g for g in m.groups()[1:] if g).lower()
        verdict.append((m.start(), (word == "safe") != bool(m.group(1))))
    return _Plan(
        tokens=tokens, hypothetical=bool(_HYPOTHETICAL.search(shape)),
        continues=bool(_CONTINUES.match(shape)), numbers=tuple(plan_numbers), axes=tuple(plan_axes),
        events=tuple(events), order=order, compare=tuple(compare),
        hazard=tuple((m.start(), m.start(1), m.end(1)) for m in _HAZARD_RE.finditer(shape)),
        activity=tuple((m.start(), m.start(1), m.end(1)) for m in _ACTIVITY_RE.finditer(shape)),
        verdict=tuple(verdict))


def check_text(text: str, clip: ClipInfo, known: Mapping[str, ClipInfo], claims: bool = True) -> list[str]:
    """Problems of one text about ``clip`` (empty when every claim holds). ``known``: id -> ClipInfo
    of every clip of the build the text may name (``clip`` included). ``claims=False`` (an
    instruction) checks ids and numbers only: a question claims no event or label."""
    if known.get(clip.id) is not clip:  # (no copy of a build's every clip when it is there)
        known = {**known, clip.id: clip}
    problems: list[str] = []
    last_event: tuple[str, str] | None = None  # (scope, event) of the previous sentence's last event
    for sentence in _sentences(text):
        shape, ends, shifts = _shape(sentence)
        p = _plan(shape)

        def text(a: int, b: int) -> str:  # the sentence's text at shape span [a, b)
            return sentence[_real(a, ends, shifts):_real(b, ends, shifts)]

        hypothetical = p.hypothetical or not claims
        # scopes: a clip id switches to that clip (an unknown one is a problem), "this clip" back
        scope = clip.id
        scopes: list[str] = []  # the scope at each token
        switches: list[tuple[int, str]] = []  # (position, clip) of each scope switch
        for kind, a, b, _ in p.tokens:
            if kind == "id":
                cid = text(a, b)[1:-1]
                if cid in known:
                    scope = cid
                    switches.append((a, cid))
                else:
                    problems.append(f"unknown clip id `{cid}`")
            elif kind == "primary":
                scope = clip.id
                switches.append((a, clip.id))
            scopes.append(scope)
        # numbers
        labelled: set[int] = set()
        for k, pos, end, unit, cands, near in p.numbers:
            value = text(pos, end)
            if unit is None:
                problems.append(f"number {value} without a unit in {sentence!r}")
                continue
            for at, axis_end, axis in reversed(near):  # the last axis within 12 characters
                if _real(pos, ends, shifts) - _real(axis_end, ends, shifts) <= 12:
                    labelled.add(at)
                    cands = (f"gyro_peak_{axis}_rads", f"gyro_mean_{axis}_rads")
                    break
            facts = known[scopes[k]].facts
            if not any(_matches(value, facts.get(f)) for f in cands):
                got = ", ".join(f"{f}={facts.get(f)!r}" for f in cands)
                problems.append(f"{value} {UNITS[unit][0]} matches no fact of `{scopes[k]}` ({got})")
        # axis claims
        for k, at, axis, topic in p.axes:
            if at in labelled:
                continue
            facts = known[scopes[k]].facts
            allowed = ({facts.get("gyro_dominant_axis")} if topic == "gyro" else
                       {facts.get("peak_accel_axis")} if topic in ("peak", "impact") else
                       {facts.get("gyro_dominant_axis"), facts.get("peak_accel_axis")})
            if axis not in allowed:
                problems.append(f"axis {axis} claimed for {topic or 'the motion'} of `{scopes[k]}`, facts say "
                                f"{sorted(x for x in allowed if x)}")
        # events
        claimed: list[tuple[int, str, str]] = []  # (token, scope, event)
        if not hypothetical:
            for k, event, negated in p.events:
                s = scopes[k]
                happened = _event_happened(known[s].facts, event)
                if negated and happened:
                    problems.append(f"denies the {event} of `{s}`, which the facts show")
                elif not negated and not happened:
                    problems.append(f"claims a {event} in `{s}`, which the facts do not show")
                elif not negated:
                    claimed.append((k, s, event))
        # order
        pairs = []
        if claimed and last_event is not None and p.continues:
            pairs.append((last_event, (claimed[0][1], claimed[0][2]), False))
        for (k1, s1, e1), (k2, s2, e2) in zip(claimed, claimed[1:]):
            if s1 != s2 or e1 == e2 or (k1, k2) not in p.order:
                continue
            pairs.append(((s1, e1), (s2, e2), p.order[k1, k2]))
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
            last_event = (claimed[-1][1], claimed[-1][2])
        elif not p.continues:
            last_event = None
        # comparisons
        for left, right, up, words in p.compare:
            a, b = p.tokens[left], p.tokens[right]
            x, y = float(text(a[1], a[1] + len(a[3][0]))), float(text(b[1], b[1] + len(b[3][0])))
            if (up and not x > y) or (not up and not x < y):
                problems.append(f"'{words}' compares {x:g} with {y:g}")
        # labels
        if not hypothetical:
            def scope_at(pos: int) -> str:
                prior = [cid for at, cid in switches if at < pos]
                return prior[-1] if prior else clip.id

            for start, a, b in p.hazard:
                label, want = text(a, b), known[scope_at(start)].hazard
                if label.strip().replace(" ", "_") != want:
                    problems.append(f'hazard "{label}" but `{scope_at(start)}` is {want!r}')
            for start, a, b in p.activity:
                label, want = text(a, b), known[scope_at(start)].activity
                if label.strip() != want:
                    problems.append(f'activity "{label}" but `{scope_at(start)}` is {want!r}')
            for start, says_safe in p.verdict:
                who = known[scope_at(start)]
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
