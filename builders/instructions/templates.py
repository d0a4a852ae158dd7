"""Templated instruction-response pairs written from the facts (several phrasings per kind).

Every phrasing is chosen by a random stream from (seed, clip id, kind) (``simulator.rng.clip_rng``),
so the same build gives the same pairs whatever the processing order. Numbers are written by
``checker.fmt``, with the rounding the checker re-derives. A fact that is None (too short or too
flat a clip) is never written: its sentence is left out.

Kinds: ``description`` (what happens, in order, with axes, magnitudes and timings), ``causal``
(the hazard's cause and how the matching safe activity differs, with numbers from a real clip of
that activity in the same build), ``comparative`` (two clips of the same split, numbers from both)
and ``classification`` (the label with a one-line justification). Clip ids appear in backticks,
labels in double quotes (``hazard "falling"``, ``activity "walking"``), as the checker reads them.
"""

from __future__ import annotations

import functools
from typing import Any, Mapping, Sequence

import numpy as np

from ...simulator.rng import StreamHead, clip_rng
from .checker import SENTENCE, ClipInfo, fmt, mark_id, mark_sentences, unmark
from .facts import events

#: Hazard -> words of the safe activities that look like it (a fall against a controlled
#: sit-down, a shove against a handshake); matched in lower-cased activity names.
LOOKALIKES: dict[str, tuple[str, ...]] = {
    "falling": ("sit", "lie", "lying", "squat", "kneel", "pick"),
    "fainting": ("sit", "lie", "lying", "squat", "kneel"),
    "losing_balance": ("walk", "stand", "turn", "hop", "stagger"),
    "shoving": ("handshak", "pat", "hug", "giving", "touch", "high-five", "support"),
    "fighting": ("clap", "wav", "handshak", "high-five", "throw", "swing", "cheer"),
    "dragging": ("carry", "walk", "pull", "move heavy", "push"),
    "jumping_from_height": ("jump", "hop", "squat", "sit"),
}
#: What causes each hazard, in words (no number, no event keyword: the signal part says those).
CAUSES: dict[str, str] = {
    "falling": "the body lost its support and came down on the ground",
    "fainting": "a loss of consciousness let the body collapse without a protective reaction",
    "losing_balance": "the balance was disturbed and the arm moved abruptly to recover it",
    "shoving": "a push transferred a sudden force between two people",
    "fighting": "forceful, repeated strikes drove the arm at high speed",
    "dragging": "the body or a load was pulled along with sustained effort at the wrist",
    "jumping_from_height": "a drop from a raised surface ended in a hard landing",
}
#: How the safe look-alike of each hazard would differ (counterfactual: no number).
SAFE_VERSIONS: dict[str, str] = {
    "falling": "A controlled sit-down would lower the body gradually, spreading the deceleration "
               "over a longer time instead of one sharp spike",
    "fainting": "A deliberate lie-down would keep the arm under control, with a slow change of "
                "orientation and no sudden collapse",
    "losing_balance": "Steady walking would keep a regular rhythm without the abrupt corrective swing",
    "shoving": "A handshake would bring the hands together gently, with small, smooth accelerations",
    "fighting": "Clapping or waving would repeat the arm motion at a far lower intensity",
    "dragging": "Carrying a light object would keep the wrist steady with little sustained effort",
    "jumping_from_height": "A small jump on flat ground would land softly after a much shorter flight",
}
UNSAFE_VERSIONS: dict[str, str] = {
    "falling": "An uncontrolled fall would add a sharp spike as the body hits the ground",
    "fainting": "A collapse from fainting would end in a sudden drop with no protective reaction",
    "losing_balance": "Losing balance would break the rhythm with an abrupt corrective swing",
    "shoving": "A shove would replace the gentle contact with a sudden, forceful push",
    "fighting": "A strike would drive the arm many times harder and faster",
    "dragging": "Dragging a person would add sustained, uneven effort at the wrist",
    "jumping_from_height": "Jumping from a height would lengthen the flight and harden the landing",
}

INSTRUCTIONS: dict[str, tuple[str, ...]] = {
    "description": (
        "Describe the motion in technical detail.",
        "Give a technical description of this wrist IMU recording.",
        "What does this accelerometer and gyroscope signal show? Be specific about timings and magnitudes.",
        "Walk me through this IMU clip: what happens, when, and how strongly?",
        "Describe, in order, the events in this 6-axis IMU clip with their magnitudes and times.",
        "Summarise the signal of this recording: axes, magnitudes and timings.",
    ),
    "causal_unsafe": (
        "What caused this event, and how would a safe motion differ?",
        "Explain what in the signal points to this hazard and how a safe version of the motion would look.",
        "Why is this recording hazardous, and what would a safe counterpart look like in the IMU?",
        "What happened to the wearer here, and how would the signal of a harmless look-alike differ?",
        "Explain the cause of this event from the IMU, and contrast it with a safe motion.",
    ),
    "causal_safe": (
        "What makes this motion safe, and how would an unsafe version differ?",
        "Why is this recording harmless, and what would a hazardous counterpart look like in the IMU?",
        "Explain from the signal why this motion is safe, and how a dangerous one would differ.",
        "What in the IMU shows this is a safe activity, and what would change if it were a hazard?",
    ),
    "comparative": (
        "Compare this recording (`{a}`) with `{b}`: how do their signals differ?",
        "How does `{b}` differ from this clip (`{a}`)? Use numbers from both.",
        "Contrast the IMU signals of this recording (`{a}`) and `{b}`.",
        "Here are two clips of the same split, this one (`{a}`) and `{b}`. What sets them apart?",
        "Which differences between this clip (`{a}`) and `{b}` show in the accelerometer and gyroscope?",
    ),
    "classification": (
        "Is this motion safe? Which hazard, if any?",
        "Classify this clip: safe or unsafe, and which hazard?",
        "Does this IMU recording show a hazard? Name it, or say it is safe.",
        "Safety check: is the wearer in danger in this recording? Give the hazard if there is one.",
        "Label this wrist IMU clip as safe or unsafe, with the hazard.",
    ),
}
#: INSTRUCTIONS as marked texts (their sentences marked; the comparative ones' ``{a}``, ``{b}``
#: take ``mark_id`` of each clip).
_QUESTIONS = {kind: tuple(mark_sentences(q).replace("`{a}`", "{a}").replace("`{b}`", "{b}") for q in questions)
              for kind, questions in INSTRUCTIONS.items()}


class _Pick:
    """Deterministic choices from the stream of (seed, clip id, kind). (The templates pick a
    phrasing by its index, ``below(n)``, where writing every phrasing to pass them to ``one``
    would cost more; the same draws either way.)

    ``one`` and ``shuffled`` draw what ``Generator.integers(n)`` and ``Generator.permutation(n)``
    draw from that stream (NumPy's Lemire rejection and masked rejection on its 32-bit words),
    computed here from words taken ``_WORDS`` at a time: one NumPy call per block instead of one
    per choice. (``test_pick_draws_like_numpy`` holds them to NumPy's own.)"""

    def __init__(self, seed: int, clip_id: str, kind: str, rng: Any = None) -> None:
        """rng: that stream's generator, unused, when the caller made it (``PICK_STREAMS``), or
        its start (a ``simulator.rng.StreamHead``: its first words, then the generator past
        them), else made here; it is used by this object alone (words are drawn ahead)."""
        self._head: StreamHead | None = None
        if isinstance(rng, StreamHead):
            self._head, self.rng, self._words = rng, None, rng.words
        else:
            self.rng = rng if rng is not None else clip_rng(seed, clip_id, f"pairs/{kind}")
            self._words: list[int] = []

    def _word(self) -> int:
        """The stream's next 32-bit word (``next_uint32``: the low, then the high half of a 64-bit
        output; so the generator must not hold half of one when it comes here)."""
        if not self._words:
            if self.rng is None:  # (past the words of a StreamHead)
                self.rng = self._head.rest()
            raw = self.rng.bit_generator.random_raw(_WORDS // 2).astype("<u8", copy=False)
            self._words = raw.view("<u4").tolist()[::-1]
        return self._words.pop()

    def below(self, n: int) -> int:
        """``int(Generator.integers(n))`` for 1 <= n < 2**32."""
        if n == 1:
            return 0
        m = (self._words.pop() if self._words else self._word()) * n
        if (m & 0xFFFFFFFF) < n:
            threshold = ((1 << 32) - n) % n
            while (m & 0xFFFFFFFF) < threshold:
                m = self._word() * n
        return m >> 32

    def one(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]

    def shuffled(self, items: list) -> list:
        """``[items[i] for i in Generator.permutation(len(items))]``."""
        order = list(range(len(items)))
        for i in range(len(items) - 1, 0, -1):  # (Generator.shuffle: Fisher-Yates, random_interval)
            mask = (1 << i.bit_length()) - 1
            j = self._word() & mask
            while j > i:
                j = self._word() & mask
            order[i], order[j] = order[j], order[i]
        return [items[i] for i in order]


#: Words a ``_Pick`` takes from its stream at a time (even; a clip's pairs use about 35).
_WORDS = 16


@functools.lru_cache(maxsize=1 << 12)
def _fmt(value: float, unit: str) -> str:
    """``fmt`` with the number marked (the texts here are *marked*: ``checker.unmark``). (Cached: a
    clip's facts are written in several pairs, and as a partner's in others.)"""
    return fmt(value, unit, marked=True)


def _id(c: ClipInfo) -> str:
    return mark_id(c.id)


def _pair(kind: str, instruction: str, response: str, marked: bool) -> dict[str, str]:
    """The pair of marked texts, or of their plain texts (``marked`` False)."""
    if marked:
        return {"kind": kind, "instruction": instruction, "response": response}
    return {"kind": kind, "instruction": unmark(instruction), "response": unmark(response)}


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _label(c: ClipInfo) -> str:
    return f'hazard "{c.hazard}"' if not c.safe else f'activity "{c.activity}"'


def event_clauses(f: Mapping[str, Any], p: _Pick) -> str | None:
    """The clip's events in time order as one clause ("a free-fall phase ..., then an impact ..."),
    or None without events."""
    parts = []
    for name, _ in events(f):
        if name == "free_fall":
            t, d = _fmt(f["free_fall_start_s"], "s"), _fmt(f["free_fall_first_s"], "s")
            k = p.below(3)  # (p.one of the three phrasings, writing only the one it picks)
            parts.append(f"a free-fall phase starts at {t} and lasts {d}" if k == 0 else
                         f"|accel| drops into free fall at {t} for {d}" if k == 1 else
                         f"the device is in free fall from {t} for {d}")
        elif name == "impact":
            m, t = _fmt(f["impact_ms2"], "ms2"), _fmt(f["impact_time_s"], "s")
            jerk = f.get("impact_jerk_ms3")
            j = _fmt(jerk, "ms3") if jerk is not None else None
            k = p.below(3)
            parts.append(f"an impact of {m} at {t}" + (f" (jerk {j})" if j else "") if k == 0 else
                         f"an impact peaks at {m} at {t}" + (f", with a jerk of {j}" if j else "") if k == 1 else
                         f"the impact reaches {m} at {t}" + (f" with a jerk of {j}" if j else ""))
        elif name == "stillness":
            t, d = _fmt(f["still_start_s"], "s"), _fmt(f["still_after_impact_s"], "s")
            k = p.below(3)
            parts.append(f"the device stays still for {d} from {t}" if k == 0 else
                         f"stillness follows from {t}, lasting {d}" if k == 1 else
                         f"the wrist rests motionless for {d} starting at {t}")
    if not parts:
        return None
    text = parts[0]
    for part in parts[1:]:
        text += p.one((", then ", "; after that, ")) + part
    return text


def _peak_phrase(f: Mapping[str, Any], p: _Pick) -> str:
    pk, t = _fmt(f["peak_accel_ms2"], "ms2"), _fmt(f["peak_accel_time_s"], "s")
    k = p.below(3)
    return (f"|accel| peaks at {pk} at {t}" if k == 0 else f"the largest |accel| is {pk} at {t}" if k == 1 else
            f"its peak |accel| is {pk} at {t}")


def _rotation_sentence(f: Mapping[str, Any], p: _Pick) -> str | None:
    ax = f.get("gyro_dominant_axis")
    if ax is None:
        return None
    pg, tg = _fmt(f["peak_gyro_rads"], "rads"), _fmt(f["peak_gyro_time_s"], "s")
    mean = _fmt(f[f"gyro_mean_{ax}_rads"], "rads")
    k = p.below(3)
    if k == 0:
        return f"Angular rate peaks at {pg} at {tg}, mostly about the {ax} axis (mean |g{ax}| {mean})."
    if k == 1:
        return f"Rotation is dominated by the {ax} axis (mean |g{ax}| {mean}), with a peak |gyro| of {pg} at {tg}."
    per_axis = ", ".join(f"{a} {_fmt(f[f'gyro_peak_{a}_rads'], 'rads')}" for a in "xyz")
    return (f"The gyroscope's largest rate is {pg} at {tg}; per axis the peaks are {per_axis}, and most "
            f"rotation is about the {ax} axis.")


def _tilt_sentence(f: Mapping[str, Any], p: _Pick) -> str | None:
    if f.get("tilt_change_deg") is None:
        return None
    d = _fmt(f["tilt_change_deg"], "deg")
    k = p.below(3)
    return (f"Across the event the device's gravity direction changes by {d}." if k == 0 else
            f"The device tilts by {d} across the event." if k == 1 else f"Tilt change across the event: {d}.")


def _frequency_sentence(f: Mapping[str, Any], p: _Pick) -> str | None:
    if f.get("dominant_freq_hz") is None:
        return None
    hz, cad = _fmt(f["dominant_freq_hz"], "hz"), _fmt(f["cadence_per_min"], "per_min")
    k = p.below(3)
    return (f"|accel| oscillates at a dominant frequency of {hz}, a cadence of {cad}." if k == 0 else
            f"The motion is periodic: dominant frequency {hz} ({cad})." if k == 1 else
            f"A rhythm of {hz} dominates |accel|, that is {cad}.")


def _energy_sentence(f: Mapping[str, Any], p: _Pick) -> str | None:
    phases = [(k, w) for k, w in (("rms_before_ms2", "before the event"), ("rms_during_ms2", "during it"),
                                  ("rms_after_ms2", "after it")) if f.get(k) is not None]
    if f.get("event_start_s") is not None and phases:
        listed = [f"{_fmt(f[k], 'ms2')} {w}" for k, w in phases]
        body = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
        return (f"The RMS dynamic acceleration is {body}." if p.below(2) == 0 else
                f"By phase, the RMS dynamic acceleration is {body}.")
    if f.get("rms_accel_ms2") is None:
        return None
    r = _fmt(f["rms_accel_ms2"], "ms2")
    return (f"The RMS dynamic acceleration over the clip is {r}." if p.below(2) == 0 else
            f"Its motion energy, as RMS dynamic acceleration, is {r}.")


def _events_or_quiet(f: Mapping[str, Any], p: _Pick) -> str:
    """One sentence on the clip's events (or their absence) in time order."""
    clauses = event_clauses(f, p)
    if clauses is None:
        return _cap(p.one(("there is no free fall and no impact; ",
                           "neither a free fall nor an impact appears; ",
                           "the signal shows no free fall and no impact: ")) + _peak_phrase(f, p)) + "."
    text = _cap(clauses) + "."
    if f.get("impact_ms2") is None:
        text += SENTENCE + "No impact follows."
    elif not f.get("still_after_impact_s"):
        text += SENTENCE + p.one(("No stillness follows the impact.", "The device does not come to rest afterwards."))
    return text


def description(c: ClipInfo, seed: int, rng: Any = None, marked: bool = False) -> dict[str, str]:
    p = _Pick(seed, c.id, "description", rng)
    f = c.facts
    dur, rate = _fmt(f["duration_s"], "s"), _fmt(f["sample_rate_hz"], "hz")
    k = p.below(3)
    parts = [f"The recording lasts {dur} at {rate}." if k == 0 else f"This {dur} clip was sampled at {rate}."
             if k == 1 else f"Duration {dur}, sample rate {rate}.",
             _events_or_quiet(f, p)]
    ax = f["peak_accel_axis"]
    if f.get("impact_ms2") is not None:
        parts.append(f"The impact acts mostly along the {ax} axis." if p.below(2) == 0 else
                     f"At the impact the {ax} axis carries most of the |accel|.")
    elif events(f):
        parts.append(_cap(_peak_phrase(f, p)) + f", mostly along the {ax} axis.")
    else:
        parts.append(f"At the |accel| peak the {ax} axis carries most of the specific force." if p.below(2) == 0
                     else f"The |accel| peak lies mostly along the {ax} axis.")
    rest = [s for s in (_rotation_sentence(f, p), _tilt_sentence(f, p), _frequency_sentence(f, p),
                        _energy_sentence(f, p)) if s]
    parts += p.shuffled(rest)
    return _pair("description", p.one(_QUESTIONS["description"]), SENTENCE.join(parts), marked)


def _reference_clauses(r: ClipInfo, p: _Pick) -> str:
    f = r.facts
    text = f"its |accel| peaks at {_fmt(f['peak_accel_ms2'], 'ms2')}"
    ff, imp = bool(f.get("free_fall_count")), f.get("impact_ms2") is not None
    if not ff and not imp:
        text += p.one((" with no free fall and no impact", ", with neither a free fall nor an impact"))
    else:
        text += ", with " + (f"a free fall of {_fmt(f['free_fall_first_s'], 's')}" if ff else "no free fall")
        text += " and " + (f"an impact of {_fmt(f['impact_ms2'], 'ms2')}" if imp else "no impact")
    if f.get("peak_gyro_rads") is not None:
        text += f", and its angular rate peaks at {_fmt(f['peak_gyro_rads'], 'rads')}"
    return text


def _comparison(a: ClipInfo, b: ClipInfo, p: _Pick) -> str | None:
    """'In this clip |accel| reaches X, higher than in `b` (Y).' (None when the texts are equal)."""
    xa, xb = _fmt(a.facts["peak_accel_ms2"], "ms2"), _fmt(b.facts["peak_accel_ms2"], "ms2")
    if xa == xb:
        return None
    word = ("higher", "stronger") if a.facts["peak_accel_ms2"] > b.facts["peak_accel_ms2"] else ("lower", "weaker")
    return (f"In this clip |accel| reaches {xa}, {word[0]} than in {_id(b)} ({xb})." if p.below(2) == 0 else
            f"Here the peak |accel| is {xa}, {word[1]} than in {_id(b)} ({xb}).")


def causal(c: ClipInfo, ref: ClipInfo | None, seed: int, rng: Any = None, marked: bool = False) -> dict[str, str]:
    p = _Pick(seed, c.id, "causal", rng)
    f = c.facts
    clauses = event_clauses(f, p)
    evidence = clauses or (_peak_phrase(f, p) + (f" and angular rate at {_fmt(f['peak_gyro_rads'], 'rads')}"
                                                  if f.get("peak_gyro_rads") is not None else ""))
    if not c.safe:
        h = c.hazard
        k = p.below(3)
        parts = [f'The clip is unsafe, hazard "{h}": {CAUSES[h]}.' if k == 0 else
                 f'Hazard "{h}" (unsafe): {CAUSES[h]}.' if k == 1 else
                 f'This recording is unsafe (hazard "{h}"): {CAUSES[h]}.',
                 p.one(("The signal shows it: ", "In the IMU, ", "The evidence: ")) + evidence + "."]
        if ref is not None:
            parts.append(p.one((f'A safe look-alike from this build, {_id(ref)} (activity "{ref.activity}"), '
                                f"differs: {_reference_clauses(ref, p)}.",
                                f'The same build holds a safe look-alike, {_id(ref)} (activity '
                                f'"{ref.activity}"): {_reference_clauses(ref, p)}.')))
            cmp = _comparison(c, ref, p)
            if cmp:
                parts.append(cmp)
        parts.append(SAFE_VERSIONS[h] + ".")
        kind = "causal_unsafe"
    else:
        parts = [(f'The clip is safe (activity "{c.activity}"): ' if p.below(2) == 0 else
                  f'This recording is safe, activity "{c.activity}"; ') + evidence + "."]
        hazard = ref.hazard if ref is not None else matching_hazard(c.activity)
        if ref is not None:
            parts.append(p.one((f'An unsafe counterpart, {_id(ref)} (hazard "{ref.hazard}"), differs: '
                                f"{_reference_clauses(ref, p)}.",
                                f'Compare the unsafe {_id(ref)} (hazard "{ref.hazard}"): '
                                f"{_reference_clauses(ref, p)}.")))
            cmp = _comparison(c, ref, p)
            if cmp:
                parts.append(cmp)
        parts.append(UNSAFE_VERSIONS[hazard] + ".")
        kind = "causal_safe"
    return _pair("causal", p.one(_QUESTIONS[kind]), SENTENCE.join(parts), marked)


def comparative(a: ClipInfo, b: ClipInfo, seed: int, rng: Any = None, marked: bool = False) -> dict[str, str]:
    p = _Pick(seed, a.id, "comparative", rng)
    fa, fb = a.facts, b.facts
    ia, ib = _id(a), _id(b)

    def verdict(c: ClipInfo, ic: str) -> str:
        return f"{ic} is {'safe' if c.safe else 'unsafe'} ({_label(c)})"

    lines = [f"{verdict(a, ia)}, while {verdict(b, ib)}." if p.one(("w", "s")) == "w"
             else f"{_cap(verdict(a, ia))}; {verdict(b, ib)}."]
    body = [f"Peak |accel|: {ia} {_fmt(fa['peak_accel_ms2'], 'ms2')} at {_fmt(fa['peak_accel_time_s'], 's')}, "
            f"{ib} {_fmt(fb['peak_accel_ms2'], 'ms2')} at {_fmt(fb['peak_accel_time_s'], 's')}."]
    cmp = _comparison(a, b, p)
    if cmp:
        body.append(cmp)
    for c, ic in ((a, ia), (b, ib)):
        clauses = event_clauses(c.facts, p)
        body.append(f"{ic}: " + (clauses + "." if clauses else
                                    p.one(("no free fall and no impact.", "neither a free fall nor an impact."))))
    if fa.get("gyro_dominant_axis") and fb.get("gyro_dominant_axis"):
        body.append(f"{ia} rotates mostly about its {fa['gyro_dominant_axis']} axis, peaking at "
                    f"{_fmt(fa['peak_gyro_rads'], 'rads')}; {ib} rotates mostly about its "
                    f"{fb['gyro_dominant_axis']} axis, peaking at {_fmt(fb['peak_gyro_rads'], 'rads')}.")
    body.append(f"{ia} lasts {_fmt(fa['duration_s'], 's')} and {ib} lasts {_fmt(fb['duration_s'], 's')}.")
    if fa.get("dominant_freq_hz") is not None and fb.get("dominant_freq_hz") is not None:
        body.append(f"Both are periodic: {ia} at a frequency of {_fmt(fa['dominant_freq_hz'], 'hz')}, "
                    f"{ib} at a frequency of {_fmt(fb['dominant_freq_hz'], 'hz')}.")
    lines += p.shuffled(body)
    instruction = p.one(_QUESTIONS["comparative"]).format(a=ia, b=ib)
    return _pair("comparative", instruction, SENTENCE.join(lines), marked)


def classification(c: ClipInfo, seed: int, rng: Any = None, marked: bool = False) -> dict[str, str]:
    p = _Pick(seed, c.id, "classification", rng)
    f = c.facts
    clauses = event_clauses(f, p)
    if not c.safe:
        k = p.below(3)
        head = (f'Unsafe: hazard "{c.hazard}".' if k == 0 else f'Unsafe, hazard "{c.hazard}".' if k == 1 else
                f'Unsafe (hazard "{c.hazard}").')
        why = ("In the signal, " + clauses + "." if clauses else _cap(_peak_phrase(f, p)) + ".")
    else:
        k = p.below(3)
        head = (f'Safe: activity "{c.activity}", no hazard.' if k == 0 else f'Safe (activity "{c.activity}").'
                if k == 1 else f'Safe, activity "{c.activity}".')
        why = ("In the signal, " + clauses + "." if clauses else _events_or_quiet(f, p))
    return _pair("classification", p.one(_QUESTIONS["classification"]), f"{head}{SENTENCE}{why}", marked)


def matching_hazard(activity: str) -> str:
    """The hazard a safe activity looks like (LOOKALIKES), "falling" when none matches."""
    low = activity.lower()
    for hazard, words in LOOKALIKES.items():
        if any(w in low for w in words):
            return hazard
    return "falling"


def is_lookalike(activity: str, hazard: str) -> bool:
    """Whether a safe ``activity`` is a look-alike of ``hazard``."""
    low = activity.lower()
    return any(w in low for w in LOOKALIKES.get(hazard, ()))


#: The random streams of a clip's templates: (seed, clip id, "pairs/<kind>") per pair kind.
PICK_STREAMS = ("description", "causal", "comparative", "classification")
#: 64-bit outputs of each stream that cover the words a clip's pair of that kind draws but for a
#: few in a thousand (description 7-17 words, causal 5-10, comparative 8-22, classification 3-5):
#: the pass computes them for many clips at once (``simulator.rng.ClipGenerators.start``).
PICK_HEADS = {"description": 9, "causal": 5, "comparative": 11, "classification": 3}


def template_pairs(c: ClipInfo, seed: int, causal_ref: ClipInfo | None,
                   compare_with: ClipInfo | None, rngs: Mapping[str, Any] | None = None,
                   marked: bool = False) -> list[dict[str, str]]:
    """The templated pairs of one clip: description, causal, comparative (with a partner) and
    classification, in that order. rngs: kind -> the generator of the clip's stream of that kind, or
    its start (``simulator.rng.StreamHead``; ``simulator.rng.ClipGenerators`` seeds many clips at
    once), else each is made here.
    marked: the texts as written, with the checker's marks (``checker.check_pair(..., marked=True)``
    checks them without splitting them again; ``checker.unmark`` gives the plain texts)."""
    rng = (rngs or {}).get
    out = [description(c, seed, rng("description"), marked), causal(c, causal_ref, seed, rng("causal"), marked)]
    if compare_with is not None:
        out.append(comparative(c, compare_with, seed, rng("comparative"), marked))
    out.append(classification(c, seed, rng("classification"), marked))
    return out
