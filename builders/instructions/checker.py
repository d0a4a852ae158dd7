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

Marked texts: the templates write each number and clip id between the marks ``VALUE`` and ``END``
and ``SENTENCE`` between two sentences (``unmark`` gives the text). ``check_pair(...,
marked=True)`` then reads a text's sentences, their shapes and values from the marks instead of
splitting it again, once it has checked, per marked shape (cached), that the marks are where the
plain text's own split would put them; where they are not, the plain text is split as usual. The
problems are those of the plain text either way (``tests/test_instructions_fastpath.py``).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

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


#: unit key -> (format spec of its default decimals, the text after the number)
_FORMAT = {u: (f".{d}f", text if u == "deg" else " " + text) for u, (text, d) in UNITS.items()}


def fmt(value: float, unit: str, decimals: int | None = None, marked: bool = False) -> str:
    """``value`` as the text writes it: ``fmt(12.345, "ms2") == "12.3 m/s²"``; ``°`` without a space.
    marked: the number between the marks ``VALUE`` and ``END``."""
    spec, after = _FORMAT[unit]
    number = _number_text(value, spec if decimals is None else f".{decimals}f")
    return f"{VALUE}{number}{END}{after}" if marked else number + after


def _number_text(value: float, spec: str) -> str:
    """``format(value, spec)``, a negative zero written "0" (as every text writes numbers)."""
    text = format(value, spec)
    return text[1:] if text[0] == "-" and float(text) == 0 else text


#: Marks of a *marked* text, as the templates write it (``check_text(..., marked=True)`` reads
#: them, ``unmark`` removes them): each value the checker reads (a number, a backticked clip id)
#: stands between VALUE and END, and SENTENCE stands between two sentences (a space in the text).
VALUE, END, SENTENCE = "\x02", "\x03", "\x1e"


def unmark(text: str) -> str:
    """The plain text of a marked text."""
    return text.replace(VALUE, "").replace(END, "").replace(SENTENCE, " ")


def mark_id(clip_id: str) -> str:
    """A clip id as a marked text writes it (backticked, marked as one value)."""
    return f"{VALUE}`{clip_id}`{END}"


def has_marks(*texts: str) -> bool:
    """Whether a mark character occurs in one of ``texts`` (labels and ids that a marked text would
    not keep as they are)."""
    return any(m in t for t in texts for m in (VALUE, END, SENTENCE))


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


@functools.lru_cache(maxsize=1 << 12)
def _sentences(text: str) -> tuple[str, ...]:
    """Split on . ! ? followed by a space or the end, but not inside numbers. (Cached: the
    instructions and many responses recur verbatim.)"""
    parts = _SENTENCE_BREAK.split(text.strip())
    return tuple(p for p in parts if p.strip())


def mark_sentences(text: str) -> str:
    """``text`` (plain) as a marked text of its sentences: SENTENCE for the space between two of
    them where it is one space (other breaks are left as they are)."""
    marked = SENTENCE.join(_sentences(text))
    return marked if unmark(marked) == text else text


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


#: Format specs by decimals (``_reads``).
_SPECS = tuple(f".{k}f" for k in range(16))


def _reads(number: str, facts: Mapping[str, Any], fields: Sequence[str]) -> bool:
    """Whether one of ``fields`` of ``facts`` rounded to the decimals of ``number`` reads
    ``number`` (a negative zero reads "0")."""
    dot = number.find(".")
    decimals = len(number) - dot - 1 if dot >= 0 else 0
    spec = _SPECS[decimals] if decimals < len(_SPECS) else f".{decimals}f"
    for f in fields:
        value = facts.get(f)
        if value is None:
            continue
        if _number_text(float(value), spec) == number:
            return True
    return False


#: fact field -> the format spec of its unit's decimals (``UNITS``).
_FIELD_SPEC = {f: _SPECS[UNITS[u][1]] for f, u in FIELD_UNITS.items()}


class Formatted(dict):
    """field -> one clip's fact as the texts write it at the decimals of its unit (``UNITS``; a
    negative zero reads "0"), None for a missing fact: formatted on first use, so that a fact
    the texts of a clip state many times is formatted once (``_check_sentences``)."""

    __slots__ = ("facts",)

    def __init__(self, facts: Mapping[str, Any]) -> None:
        super().__init__()
        self.facts = facts

    def __missing__(self, f: str) -> str | None:
        value = self.facts.get(f)
        text = None if value is None else _number_text(float(value), _FIELD_SPEC[f])
        self[f] = text
        return text


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


#: What ``_shape`` writes in a canonical form, in one split of the sentence: a plain clip id
#: (group 1), other backticked text (group 2: kept, and no number inside it is rewritten) and a
#: number (group 3; not after "^", "m/s^2" is a unit, nor before "-", "3-axis" and "6-D" are
#: words: the atomic group keeps "12.5-" whole, as a number token reads it).
_SHAPE_SPLIT = _first(r"`\-\d", r"(`[\w.~+-]+`)|(`[^`]+`)|(?<![\w.^])((?>-?\d+(?:\.\d+)?))(?!-)", 0)


@functools.lru_cache(maxsize=1 << 13)
def _shape(sentence: str) -> tuple[str, tuple[str, ...]]:
    """(shape, values): ``sentence`` with each plain clip id written "`0`" and each number "0" or
    "0.0" (its sign kept), and the texts so replaced, in order. Ids and numbers keep their
    character classes and the tokens around them their neighbours, so every pattern of the checker
    matches the shape as it matches the sentence, and the shape's own split finds the replaced
    spans again (``_Plan.spans``): sentences of one template share a shape, whatever their numbers
    and clips, and with it a ``_Plan``. (Cached: many sentences recur verbatim from clip to clip.)"""
    pieces = _SHAPE_SPLIT.split(sentence)
    if len(pieces) == 1:
        return sentence, ()
    out = [pieces[0]]
    values = []
    for i in range(1, len(pieces), 4):
        plain, other, number = pieces[i], pieces[i + 1], pieces[i + 2]
        if plain is not None:
            out.append("`0`")
            values.append(plain)
        elif other is not None:
            out.append(other)
        else:
            out.append(("-0" if number[0] == "-" else "0") + (".0" if "." in number else ""))
            values.append(number)
        out.append(pieces[i + 3])
    return "".join(out), tuple(values)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the checker reads from a sentence's shape alone (``_plan``); values (numbers, clip ids,
    labels) and distances are taken from the sentence's own ``_shape`` values, facts at check time.

    A *source* is an index into the sentence's values followed by those ``extra`` makes: a text
    the shape keeps as it is, or (a tuple of sources) their concatenation; literal: every extra is a
    text. ``values[source]`` is then the sentence's text there.

    n_values: how many spans ``_shape`` rewrote. tokens: ``_raw_tokens`` of the shape. switches:
    (position, source of the clip id, None for "this clip") of every scope switch; a number, an
    axis or an event speaks of the scope its *switches* (how many switches come before it) leave.
    numbers: (switches, position, source, unit key or None, candidate fields, (position, end, axis,
    first and end index of the rewritten spans between the axis and the number, their shape
    length) of the axes before it with no number between, which label it when near enough).
    axes: (switches, position, axis, topic) of every axis. events: (token, switches, event,
    negated). order:
    (token, token) -> True (reversed: "after", "preceded by"), False (forward) for two events
    with an order word between them. compare: (left source, right source, "higher"-like, the
    words) with one unit on both sides. hazard / activity: (match start, source of the label).
    verdict: (match start, says safe). quiet: the sentence claims nothing to check
    (no id, number, axis or comparison; a hypothetical, or no event or label); quiet_question:
    the same for an instruction, which claims no event or label.
    """

    n_values: int
    extra: tuple
    literal: bool
    tokens: tuple
    switches: tuple
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
    quiet: bool
    quiet_question: bool


@functools.lru_cache(maxsize=1 << 14)
def _plan(shape: str) -> _Plan:
    """The text-only part of checking a sentence of this shape (``_Plan``)."""
    spans = [m.span() for m in _SHAPE_SPLIT.finditer(shape) if m.group(2) is None]  # rewritten spans
    starts = {a: k for k, (a, _) in enumerate(spans)}
    span_ends = [b for _, b in spans]
    extra: list[str | tuple[int, ...]] = []

    def source(a: int, b: int) -> int:
        """The source of the sentence's text at shape span [a, b): a rewritten span, the shape's
        own text, or the concatenation of both (a "-" before a number after "^": "^-0.0")."""
        if a in starts and spans[starts[a]][1] == b:
            return starts[a]
        inside = [k for k, (s, e) in enumerate(spans) if s < b and e > a]
        if any(spans[k][0] < a or spans[k][1] > b for k in inside):  # tokens never cut a span
            raise AssertionError(f"checker: shape span {a}:{b} cuts a rewritten span of {shape!r}")
        if not inside:
            extra.append(shape[a:b])
            return len(spans) + len(extra) - 1
        parts, at = [], a
        for k in inside:
            if spans[k][0] > at:
                parts.append(source(at, spans[k][0]))
            parts.append(k)
            at = spans[k][1]
        if b > at:
            parts.append(source(at, b))
        extra.append(tuple(parts))
        return len(spans) + len(extra) - 1

    tokens = _raw_tokens(shape)
    items = [(k, t) for k, t in enumerate(tokens) if t[0] not in ("id", "primary")]
    switches = tuple((k, t[1], source(t[1], t[2]) if t[0] == "id" else None)
                     for k, t in enumerate(tokens) if t[0] in ("id", "primary"))
    topics = [t for _, t in items if t[0] == "topic"]

    def n_switches(k: int) -> int:
        return sum(1 for ks, _, _ in switches if ks < k)

    numbers = [(k, t) for k, t in items if t[0] == "number"]
    axes = [(k, t) for k, t in items if t[0] == "axis"]
    plan_numbers = []
    number_source = {}
    for k, (_, pos, _, (text, unit)) in numbers:
        cands: list[str] | None = None
        near: tuple = ()
        number_source[k] = source(pos, pos + len(text))
        if unit is not None:
            cands = _WITH_UNIT[unit]
            before = [p for p in topics if p[1] < pos and _TOPIC_UNIT[p[3], unit]]
            after = [p for p in topics if p[1] > pos and _TOPIC_UNIT[p[3], unit]]
            topic = before[-1] if before else (after[0] if after else None)
            if topic is not None:
                cands = _TOPIC_UNIT[topic[3], unit]
            if unit == "rads":
                near_axes = [(a[1], a[2], a[3]) for _, a in axes if a[2] <= pos
                             and not any(n[1] > a[2] and n[1] < pos for _, n in numbers)]
                for at, end, axis in near_axes:
                    k0, k1 = bisect.bisect_right(span_ends, end), bisect.bisect_right(span_ends, pos)
                    near += ((at, end, axis, k0, k1, sum(e - s for s, e in spans[k0:k1])),)
        plan_numbers.append((n_switches(k), pos, number_source[k], unit,
                             tuple(cands) if cands is not None else None, near))
    plan_axes = []
    for k, (_, pos, _, axis) in axes:
        before = [p for p in topics if p[1] < pos and p[3] in ("gyro", "peak", "impact")]
        after = [p for p in topics if p[1] > pos and p[3] in ("gyro", "peak", "impact")]
        plan_axes.append((n_switches(k), pos, axis, before[-1][3] if before else (after[0][3] if after else None)))
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
            compare.append((number_source[left[-1][0]], number_source[right[0][0]],
                            m.group(1).lower() in _UP_WORDS, m.group(0)))
    verdict = []
    for m in _VERDICT_RE.finditer(shape):
        word = next(g for g in m.groups()[1:] if g).lower()
        verdict.append((m.start(), (word == "safe") != bool(m.group(1))))
    hazard = tuple((m.start(), source(m.start(1), m.end(1))) for m in _HAZARD_RE.finditer(shape))
    activity = tuple((m.start(), source(m.start(1), m.end(1))) for m in _ACTIVITY_RE.finditer(shape))
    hypothetical = bool(_HYPOTHETICAL.search(shape))
    quiet_question = not (any(s is not None for _, _, s in switches) or numbers or axes or compare)
    return _Plan(
        n_values=len(spans), extra=tuple(extra), literal=all(isinstance(x, str) for x in extra),
        tokens=tokens, switches=tuple((at, src) for _, at, src in switches),
        hypothetical=hypothetical, continues=bool(_CONTINUES.match(shape)),
        numbers=tuple(plan_numbers), axes=tuple(plan_axes),
        events=tuple((k, n_switches(k), event, negated) for k, event, negated in events), order=order,
        compare=tuple(compare), hazard=hazard, activity=activity, verdict=tuple(verdict),
        quiet=quiet_question and (hypothetical or not (events or hazard or activity or verdict)),
        quiet_question=quiet_question)


#: Sentences: (sentence, its ``_shape`` values, the ``_plan`` of its shape) of each, in order; a
#: sentence of a marked text keeps its marks (``unmark`` it to quote it).
Sentences = list[tuple[str, tuple[str, ...], _Plan]]


def _plain_sentences(text: str) -> Sentences:
    out = []
    for sentence in _sentences(text):
        shape, values = _shape(sentence)
        out.append((sentence, values, _plan(shape)))
    return out


_ID_VALUE = re.compile(r"`[\w.~+-]+`")
_NUMBER_VALUE = re.compile(r"-?\d+(?:\.\d+)?")
#: Characters a sentence may start with after a break (``_SENTENCE_BREAK``'s lookahead).
_OPENS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ`\"(|")


@functools.lru_cache(maxsize=1 << 15)
def _value_shape(value: str) -> str | None:
    """What ``_shape`` writes for a marked value: "`0`", "0", "-0.0", ...; None for a value it does
    not rewrite whole (the text is then split as a plain one)."""
    if _ID_VALUE.fullmatch(value):
        return "`0`"
    if _NUMBER_VALUE.fullmatch(value):
        return ("-0" if value[0] == "-" else "0") + (".0" if "." in value else "")
    return None


@functools.lru_cache(maxsize=1 << 14)
def _marked_plan(marked_shape: str) -> tuple[_Plan, bool, bool] | None:
    """(plan, opens, closes) of a sentence shape with marks around its values, when the marks are
    exactly the spans ``_shape`` rewrites in it and it holds no sentence break (else None); opens
    / closes: whether it can start / end at a sentence break (``_SENTENCE_BREAK``).

    Outside the marked spans the shape is the sentence's own text, and a marked value has the
    character classes of its shape where the patterns look (first and last character, no space),
    so the sentence splits, and ``_shape`` finds its spans, as the shape does."""
    pieces = marked_shape.split(VALUE)
    if END in pieces[0]:
        return None
    parts, spans, at = [pieces[0]], [], len(pieces[0])
    for piece in pieces[1:]:
        value, sep, rest = piece.partition(END)
        if not sep or END in rest:
            return None
        spans.append((at, at + len(value)))
        at += len(value) + len(rest)
        parts += (value, rest)
    shape = "".join(parts)
    if not shape or shape != shape.strip() or _SENTENCE_BREAK.search(shape):
        return None
    if [m.span() for m in _SHAPE_SPLIT.finditer(shape) if m.group(2) is None] != spans:
        return None
    return _plan(shape), shape[0] in _OPENS, shape[-1] in ".!?"


@functools.lru_cache(maxsize=1 << 15)
def _marked_value_shape(value: str) -> str | None:
    """``_value_shape`` of a value between its marks (VALUE, END), or None."""
    shape = _value_shape(value)
    return None if shape is None else VALUE + shape + END


def _marked_sentences(text: str) -> Sentences | None:
    """The sentences of a marked text as ``_sentences`` and ``_shape`` find them in its plain text,
    read from its marks; None when the marks do not show them (then the plain text is split).

    The text's pieces between marks (either mark: the plain text is their concatenation whatever
    the marks) are taken as text, value, text, value, ...; the text with each value's shape in
    its place (``_value_shape``, marked) splits into the shapes of its sentences (no value holds
    a sentence mark), whose plans (``_marked_plan``) hold when each value stands where the plain
    text's own split puts one, and say how many values each sentence holds."""
    pieces = text.replace(END, VALUE).split(VALUE)
    if len(pieces) > 1:
        values = pieces[1::2]
        shapes = list(map(_marked_value_shape, values))
        if None in shapes:
            return None
        pieces[1::2] = shapes
        keys = "".join(pieces).split(SENTENCE)
        values = tuple(values)
    else:
        keys, values = text.split(SENTENCE), ()
    out: Sentences = []
    closes = False
    at = 0
    for marked, key in zip(text.split(SENTENCE), keys):
        found = _marked_plan(key)
        if found is None or (out and not (closes and found[1])):  # (a break between two sentences)
            return None
        closes = found[2]
        plan = found[0]
        end = at + plan.n_values
        out.append((marked, values[at:end], plan))
        at = end
    return out if at == len(values) else None


@functools.lru_cache(maxsize=1 << 8)
def _unvalued_sentences(text: str) -> tuple | None:
    """``_marked_sentences`` of a marked text without values (the questions: a few texts, met
    again and again), cached."""
    found = _marked_sentences(text)
    return tuple(found) if found is not None else None


def _text_sentences(text: str, marked: bool) -> Sentences:
    if marked:
        found = _marked_sentences(text) if VALUE in text else _unvalued_sentences(text)
        if found is not None:
            return found
        text = unmark(text)
    return _plain_sentences(text)


def check_text(text: str, clip: ClipInfo, known: Mapping[str, ClipInfo], claims: bool = True,
               marked: bool = False) -> list[str]:
    """Problems of one text about ``clip`` (empty when every claim holds). ``known``: id -> ClipInfo
    of every clip of the build the text may name (``clip`` included). ``claims=False`` (an
    instruction) checks ids and numbers only: a question claims no event or label. marked: ``text``
    is a marked text (``VALUE``): the problems of its plain text (``unmark``), whose sentences and
    values its marks give without splitting it again."""
    return _check_sentences(_text_sentences(text, marked), clip, known, claims)


def _check_sentences(sentences: Sentences, clip: ClipInfo, known: Mapping[str, ClipInfo],
                     claims: bool, formatted: dict[str, Formatted] | None = None) -> list[str]:
    """formatted: clip id -> ``Formatted`` of its facts, filled here (one per ``known``: texts
    checked against the same clips may share it)."""
    if known.get(clip.id) is not clip:  # (no copy of a build's every clip when it is there)
        known = {**known, clip.id: clip}
    if formatted is None:
        formatted = {}
    own = clip.facts
    own_texts = formatted.get(clip.id)
    if own_texts is None:
        own_texts = formatted[clip.id] = Formatted(own)
    problems: list[str] = []
    last_event: tuple[str, str] | None = None  # (scope, event) of the previous sentence's last event
    for sentence, values, p in sentences:
        if p.quiet if claims else p.quiet_question:  # nothing to check, and no event claimed
            if not p.continues:
                last_event = None
            continue
        if len(values) != p.n_values:  # (``_shape``'s spans found again in the shape: by design)
            raise AssertionError(f"checker: the shape of {unmark(sentence)!r} does not map back to it")
        if p.literal:
            values += p.extra
        else:  # (a text made of rewritten spans and the shape's text, after those it is made of)
            for x in p.extra:
                values += (x if isinstance(x, str) else "".join(values[j] for j in x),)
        hypothetical = p.hypothetical or not claims
        # scopes: a clip id switches to that clip (an unknown one is a problem), "this clip" back
        switches: list[tuple[int, str]] | tuple = ()  # (position, clip) of each scope switch
        if p.switches:
            scope = clip.id
            scopes = []  # the scope after each switch
            switches = []
            for at, src in p.switches:
                if src is None:
                    scope = clip.id
                    switches.append((at, clip.id))
                else:
                    cid = values[src][1:-1]
                    if cid in known:
                        scope = cid
                        switches.append((at, cid))
                    else:
                        problems.append(f"unknown clip id `{cid}`")
                scopes.append(scope)
        # numbers
        labelled: set[int] | tuple = ()
        for n, pos, src, unit, cands, near in p.numbers:
            value = values[src]
            if unit is None:
                problems.append(f"number {value} without a unit in {unmark(sentence)!r}")
                continue
            if near:
                for at, axis_end, axis, k0, k1, shape_len in reversed(near):  # the last axis within 12
                    if pos - axis_end + sum(map(len, values[k0:k1])) - shape_len <= 12:  # characters
                        if not labelled:
                            labelled = set()
                        labelled.add(at)
                        cands = (f"gyro_peak_{axis}_rads", f"gyro_mean_{axis}_rads")
                        break
            if n:
                s = scopes[n - 1]
                texts = formatted.get(s)
                if texts is None:
                    texts = formatted[s] = Formatted(known[s].facts)
            else:
                s, texts = clip.id, own_texts
            # (a fact as the texts write it at its unit's decimals; at other decimals, formatted anew)
            for f in cands:
                if texts[f] == value:
                    break
            else:
                facts = texts.facts
                if not _reads(value, facts, cands):
                    got = ", ".join(f"{f}={facts.get(f)!r}" for f in cands)
                    problems.append(f"{value} {UNITS[unit][0]} matches no fact of `{s}` ({got})")
        # axis claims
        for n, at, axis, topic in p.axes:
            if at in labelled:
                continue
            s = scopes[n - 1] if n else clip.id
            facts = known[s].facts
            allowed = ({facts.get("gyro_dominant_axis")} if topic == "gyro" else
                       {facts.get("peak_accel_axis")} if topic in ("peak", "impact") else
                       {facts.get("gyro_dominant_axis"), facts.get("peak_accel_axis")})
            if axis not in allowed:
                problems.append(f"axis {axis} claimed for {topic or 'the motion'} of `{s}`, facts say "
                                f"{sorted(x for x in allowed if x)}")
        # events
        claimed: list[tuple[int, str, str]] = []  # (token, scope, event)
        if not hypothetical and p.events:
            for k, n, event, negated in p.events:
                s = scopes[n - 1] if n else clip.id
                happened = _event_happened(known[s].facts, event)
                if negated and happened:
                    problems.append(f"denies the {event} of `{s}`, which the facts show")
                elif not negated and not happened:
                    problems.append(f"claims a {event} in `{s}`, which the facts do not show")
                elif not negated:
                    claimed.append((k, s, event))
        # order
        if claimed:
            pairs = []
            if last_event is not None and p.continues:
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
                    problems.append(f"says the {first} comes before the {second} in `{sa}`, but the "
                                    f"facts put them at {ta:.2f} s and {tb:.2f} s")
            last_event = (claimed[-1][1], claimed[-1][2])
        elif not p.continues:
            last_event = None
        # comparisons
        for left, right, up, words in p.compare:
            x, y = float(values[left]), float(values[right])
            if (up and not x > y) or (not up and not x < y):
                problems.append(f"'{words}' compares {x:g} with {y:g}")
        # labels
        if not hypothetical and (p.hazard or p.activity or p.verdict):
            for start, src in p.hazard:
                s = _scope_at(start, switches, clip.id)
                label, want = values[src], known[s].hazard
                if label.strip().replace(" ", "_") != want:
                    problems.append(f'hazard "{label}" but `{s}` is {want!r}')
            for start, src in p.activity:
                s = _scope_at(start, switches, clip.id)
                label, want = values[src], known[s].activity
                if label.strip() != want:
                    problems.append(f'activity "{label}" but `{s}` is {want!r}')
            for start, says_safe in p.verdict:
                who = known[_scope_at(start, switches, clip.id)]
                if says_safe != who.safe:
                    problems.append(f"calls `{who.id}` {'safe' if says_safe else 'unsafe'}, its hazard is "
                                    f"{who.hazard!r}")
    return problems


def _scope_at(pos: int, switches: list[tuple[int, str]], default: str) -> str:
    """The clip a sentence speaks of at shape position ``pos``: the last switch before it."""
    scope = default
    for at, cid in switches:
        if at >= pos:
            break
        scope = cid
    return scope


def check_pair(pair: Mapping[str, str], clip: ClipInfo, known: Mapping[str, ClipInfo],
               marked: bool = False) -> list[str]:
    """Problems of one ``{kind, instruction, response}`` pair about ``clip`` (empty = it passes);
    marked: its texts are marked texts (``check_text``).

    A classification response must also state the verdict, and for an unsafe clip name the hazard.
    """
    return checked_pair(pair, clip, known, marked)[0]


def checked_pair(pair: Mapping[str, str], clip: ClipInfo, known: Mapping[str, ClipInfo],
                 marked: bool = False, formatted: dict[str, Formatted] | None = None
                 ) -> tuple[list[str], dict[str, str]]:
    """(``check_pair``'s problems, the pair as plain texts); formatted: clip id -> ``Formatted``
    of its facts, shared by the pairs checked against one ``known``."""
    if formatted is None:
        formatted = {}
    instruction, response = pair["instruction"], pair["response"]
    sentences = _text_sentences(response, marked)
    problems = (_check_sentences(_text_sentences(instruction, marked), clip, known, False, formatted)
                + _check_sentences(sentences, clip, known, True, formatted))
    if marked:
        instruction, response = unmark(instruction), unmark(response)
    if not response.strip():
        problems.append("empty response")
    if pair.get("kind") == "classification":
        if not sentences or not _VERDICT_RE.search(unmark(sentences[0][0])):
            problems.append("classification response states no safe/unsafe verdict first")
        if not clip.safe and f'hazard "{clip.hazard}"' not in response and \
                not re.search(rf'hazard\s*:?\s*"{re.escape(clip.hazard)}"', response):
            problems.append(f"classification response does not name the hazard {clip.hazard!r}")
    return problems, {**pair, "instruction": instruction, "response": response}


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
