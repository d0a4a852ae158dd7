"""Signal facts against constructed signals, the templates, and the checker catching wrong claims."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from imu2safety.builders.instructions.checker import ClipInfo, check_pair, check_text, fmt, keeps_draft
from imu2safety.builders.instructions.facts import G, FactOptions, compute_facts, events
from imu2safety.builders.instructions.templates import (
    INSTRUCTIONS, classification, comparative, description, template_pairs,
)

RATE = 100.0


def fall_signal() -> np.ndarray:
    """4 s at 100 Hz: still face up 1 s, free fall 0.30 s, a 50 m/s^2 impact sample at 1.30 s, then
    still on the side (gravity on x). A 3 rad/s turn about z from 0.6 s to 1.3 s."""
    n = 400
    imu = np.zeros((n, 6))
    imu[:100, 2] = G
    imu[130, 0] = 50.0
    imu[131:, 0] = G
    imu[60:130, 5] = 3.0
    imu[60:130, 3] = 0.5
    return imu


def test_free_fall_impact_stillness_and_tilt():
    f = compute_facts(fall_signal(), RATE)
    assert f["duration_s"] == 4.0 and f["n_samples"] == 400 and f["sample_rate_hz"] == RATE
    # free fall: samples 100..129 (|a| = 0 < 0.5 g): 30 samples
    assert f["free_fall_count"] == 1 and f["free_fall_s"] == pytest.approx(0.30)
    assert f["free_fall_start_s"] == pytest.approx(1.00) and f["free_fall_first_s"] == pytest.approx(0.30)
    assert f["min_accel_ms2"] == 0.0
    # impact: the 50 m/s^2 sample; jerk = largest central difference: (50 - 0) / (2 * 0.01 s)
    assert f["impact_ms2"] == 50.0 and f["impact_time_s"] == pytest.approx(1.30)
    assert f["peak_accel_ms2"] == 50.0 and f["peak_accel_axis"] == "x"
    assert f["impact_jerk_ms3"] == pytest.approx(2500.0)
    # stillness: the centred 0.5 s window (50 samples) leaves the spike (excess 40.2 / 50 > 0.6)
    # at sample 156; still to the end
    assert f["still_start_s"] == pytest.approx(1.56)
    assert f["still_after_impact_s"] == pytest.approx(4.0 - 1.56)
    # the event runs from the free fall's start to the impact
    assert (f["event_start_s"], f["event_end_s"]) == (pytest.approx(1.0), pytest.approx(1.3))
    assert events(f) == [("free_fall", pytest.approx(1.0)), ("impact", pytest.approx(1.3)),
                         ("stillness", pytest.approx(1.56))]
    # gravity moved from z to x: 90 degrees
    assert f["tilt_change_deg"] == pytest.approx(90.0, abs=1e-9)
    # energy per phase: before (0..0.99 s): 1 s still face up then... |a| - g = 0 for samples < 100
    assert f["rms_before_ms2"] == pytest.approx(0.0, abs=1e-12)
    assert f["rms_after_ms2"] == pytest.approx(0.0, abs=1e-12)
    during = np.r_[np.full(30, -G), 50 - G, np.zeros(30)]
    assert f["rms_during_ms2"] == pytest.approx(math.sqrt(np.mean(during ** 2)))
    # rotation: 3 rad/s about z with 0.5 about x for 0.7 s
    assert f["gyro_dominant_axis"] == "z" and f["peak_gyro_rads"] == pytest.approx(math.hypot(3, 0.5))
    assert f["gyro_mean_z_rads"] == pytest.approx(3.0 * 70 / 400) and f["gyro_peak_x_rads"] == 0.5
    assert f["dominant_freq_hz"] is None


def test_rotation_and_cadence():
    t = np.arange(0, 10, 1 / 50)
    imu = np.zeros((len(t), 6))
    imu[:, 2] = G + 3.0 * np.sin(2 * np.pi * 1.8 * t)       # |a| oscillates at 1.8 Hz
    imu[:, 4] = 0.2 * np.cos(2 * np.pi * 0.5 * t)
    imu[:, 5] = 2.0 * np.sin(2 * np.pi * 1.0 * t)           # mostly about z
    f = compute_facts(imu, 50.0)
    assert f["dominant_freq_hz"] == pytest.approx(1.8, abs=0.02)
    assert f["cadence_per_min"] == pytest.approx(108.0, abs=1.2)
    assert f["periodicity"] > 0.8
    assert f["gyro_dominant_axis"] == "z"
    assert f["peak_gyro_rads"] == pytest.approx(2.0, abs=0.01)
    assert f["gyro_mean_z_rads"] == pytest.approx(4 / np.pi, rel=0.01)  # mean |sin| = 2/pi
    assert f["free_fall_count"] == 0 and f["impact_ms2"] is None and f["still_after_impact_s"] is None
    assert f["tilt_change_deg"] is None and f["event_start_s"] is None
    # fewer than min_cycles periods: no frequency
    assert compute_facts(imu[:60], 50.0)["dominant_freq_hz"] is None


def test_short_and_flat_clips_get_no_invented_facts():
    flat = np.zeros((200, 6))   # a dead sensor reads 0: not a 4-s free fall
    f = compute_facts(flat, 50.0)
    assert f["free_fall_count"] == 0 and f["impact_ms2"] is None and f["dominant_freq_hz"] is None
    assert f["gyro_dominant_axis"] is None and f["tilt_change_deg"] is None
    one = compute_facts(np.array([[0, 0, G, 0, 0, 0]]), 50.0)
    assert one["duration_s"] == 0.02 and one["rms_accel_ms2"] is None
    for facts in (f, one, compute_facts(fall_signal()[:20], RATE)):
        clip = ClipInfo("short", "falling", "falling", facts)
        for pair in template_pairs(clip, 0, None, None):
            assert check_pair(pair, clip, {}) == [], pair
            assert "free fall" not in pair["response"].replace("no free fall", "") or facts["free_fall_count"]
            assert "Hz (" not in pair["response"] and "°" not in pair["response"]


def test_fact_options_are_checked():
    with pytest.raises(ValueError, match="free_fall_threshold_ms2 must be a positive number"):
        FactOptions(free_fall_threshold_ms2=0)
    with pytest.raises(ValueError, match=r"imu must be \(N>=1, 6\)"):
        compute_facts(np.zeros((5, 3)), 50.0)
    with pytest.raises(ValueError, match="NaN"):
        compute_facts(np.full((5, 6), np.nan), 50.0)
    # a higher free-fall threshold finds the same phase; a stricter minimum length drops it
    assert compute_facts(fall_signal(), RATE, FactOptions(min_free_fall_s=0.5))["free_fall_count"] == 0


@pytest.fixture
def fall() -> ClipInfo:
    return ClipInfo("fall_01", "falling", "falling", compute_facts(fall_signal(), RATE))


@pytest.fixture
def walk() -> ClipInfo:
    t = np.arange(0, 8, 1 / 50)
    imu = np.zeros((len(t), 6))
    imu[:, 2] = G + 2.0 * np.sin(2 * np.pi * 1.6 * t)
    imu[:, 3] = 1.5 * np.sin(2 * np.pi * 0.8 * t)
    return ClipInfo("walk_01", "none", "walking", compute_facts(imu, 50.0))


def test_templates_pass_the_checker_and_say_the_facts(fall, walk):
    known = {c.id: c for c in (fall, walk)}
    for seed in range(6):
        for c, other in ((fall, walk), (walk, fall)):
            pairs = template_pairs(c, seed, other, other)
            assert [p["kind"] for p in pairs] == ["description", "causal", "comparative", "classification"]
            for p in pairs:
                assert check_pair(p, c, known) == [], (p, check_pair(p, c, known))
    d = description(fall, 0)["response"]
    assert fmt(50.0, "ms2") == "50.0 m/s²" and "50.0 m/s²" in d and "1.30 s" in d and "90°" in d
    assert d.index("free") < d.index("impact")
    c = classification(fall, 0)["response"]
    assert c.startswith("Unsafe") and 'hazard "falling"' in c
    assert classification(walk, 0)["response"].startswith("Safe")
    cmp = comparative(fall, walk, 0)
    assert "`walk_01`" in cmp["instruction"] and "`fall_01`" in cmp["instruction"]


def _description_with_all_parts(fall: ClipInfo) -> str:
    for seed in range(50):
        text = description(fall, seed)["response"]
        if "mostly about the z axis" in text or "most rotation is about the z axis" in text:
            return text
    raise AssertionError("no phrasing names the rotation axis")


def test_checker_catches_a_wrong_number(fall):
    text = description(fall, 0)["response"]
    assert check_text(text, fall, {}) == []
    bad = text.replace("50.0 m/s²", "51.0 m/s²")
    assert bad != text and any("51.0 m/s²" in p for p in check_text(bad, fall, {}))
    bad = text.replace("1.30 s", "1.40 s")
    assert any("1.40 s" in p for p in check_text(bad, fall, {}))
    # the same number with other rounding is fine; a bare (unit-less) number is not
    assert check_text("The impact reaches 50 m/s² at 1.3 s.", fall, {}) == []
    assert any("without a unit" in p for p in check_text("The impact reaches 50 m/s² after 3 steps.", fall, {}))


def test_checker_catches_a_wrong_axis(fall):
    text = _description_with_all_parts(fall)
    assert check_text(text, fall, {}) == []
    bad = text.replace("about the z axis", "about the x axis")
    assert any("axis x" in p for p in check_text(bad, fall, {}))
    assert any("axis y" in p for p in check_text("The impact acts mostly along the y axis.", fall, {}))
    # a per-axis number under the wrong axis
    assert check_text("Per axis the rotation peaks are x 0.50 rad/s, z 3.00 rad/s.", fall, {}) == []
    assert check_text("Per axis the rotation peaks are x 3.00 rad/s, z 0.50 rad/s.", fall, {})


def test_checker_catches_a_wrong_order_of_events(fall):
    good = ("A free-fall phase starts at 1.00 s and lasts 0.30 s, then an impact of 50.0 m/s² at 1.30 s; "
            "after that, the device stays still for 2.44 s from 1.56 s.")
    assert check_text(good, fall, {}) == []
    swapped = ("An impact of 50.0 m/s² at 1.30 s, then a free-fall phase starts at 1.00 s and lasts 0.30 s.")
    assert any("impact comes before the free_fall" in p for p in check_text(swapped, fall, {}))
    # "after" reverses the order in the text: true here, false when swapped
    assert check_text("The impact came after a free fall.", fall, {}) == []
    assert check_text("The free fall came after the impact.", fall, {})
    assert check_text("The device stays still. Then comes the impact.", fall, {})


def test_checker_catches_an_invented_event(fall, walk):
    assert any("claims a free_fall" in p for p in check_text("A free fall precedes the step.", walk, {}))
    assert any("claims a impact" in p for p in check_text("There is an impact.", walk, {}))
    assert any("denies the free_fall" in p for p in check_text("There is no free fall.", fall, {}))
    assert check_text("There is no free fall and no impact.", walk, {}) == []
    # an invented number: a tilt that the walking clip has no fact for
    assert check_text("The device tilts by 20° across the event.", walk, {})
    # counterfactual sentences claim no event
    assert check_text("A fall would end in an impact.", walk, {}) == []


def test_checker_checks_labels_ids_and_comparisons(fall, walk):
    known = {walk.id: walk}
    assert check_text('`walk_01` is safe (activity "walking").', fall, known) == []
    assert check_text('`walk_01` is unsafe.', fall, known)
    assert check_text('This clip is unsafe, hazard "fainting".', fall, known)
    assert any("unknown clip id" in p for p in check_text("Compare `nope_01`.", fall, known))
    assert check_text("In this clip |accel| reaches 50.0 m/s², higher than in `walk_01` (11.8 m/s²).",
                      fall, known) == []
    assert check_text("In this clip |accel| reaches 50.0 m/s², lower than in `walk_01` (11.8 m/s²).",
                      fall, known)
    pair = {"kind": "classification", "instruction": INSTRUCTIONS["classification"][0],
            "response": "The impact reaches 50.0 m/s²."}
    assert any("verdict" in p for p in check_pair(pair, fall, {}))
    pair["response"] = "Unsafe. The impact reaches 50.0 m/s²."
    assert any("does not name the hazard" in p for p in check_pair(pair, fall, {}))


def test_phrasings_vary_with_the_clip_and_seed(fall):
    texts = {description(fall, seed)["response"] for seed in range(20)}
    instructions = {description(fall, seed)["instruction"] for seed in range(20)}
    assert len(texts) >= 5 and len(instructions) >= 4
    assert description(fall, 3) == description(fall, 3)
    assert all(re.search(r"\d", t) for t in texts)


def test_a_rewrite_must_keep_the_drafts_numbers_ids_and_labels():
    draft = 'Unsafe: hazard "falling". An impact of 50.0 m/s² at 1.30 s, unlike `walk_01`.'
    assert keeps_draft(draft, "In short: " + draft + " It was a hard landing.") == []
    assert keeps_draft(draft, 'Unsafe: hazard "falling". An impact of 50.0 m/s² at 1.3 s, unlike `walk_01`.') \
        == ["drops 1.30 s"]
    assert set(keeps_draft(draft, "Unsafe. An impact of 50.0 m/s² at 1.30 s.")) == \
        {'drops hazard "falling"', "drops `walk_01`"}


def test_token_prefilter_changes_no_token():
    """The checker's patterns skip positions whose character starts no match: every alternative
    of every topic word starts with a character of the tokenizer's prefilter, and sentences full
    of look-alikes (word parts, case and Unicode folds, Unicode digits) give the same matches and
    sentence splits with and without the prefilters."""
    from imu2safety.builders.instructions import checker as K

    first = re.compile(f"[{K._FIRST_CHARS}]", re.I)
    for _, rx in K._WORDS:
        for alt in re.split(r"(?<!\\)\|", rx):  # top-level alternatives (none is nested here)
            head = re.sub(r"^(?:\\b|\(\?:)+", "", alt)
            head = head[1:] if head.startswith("\\") else head
            assert first.match(head[0]), (alt, head)
    plain = re.compile(K._MASTER.pattern.split(")(?:", 1)[1][:-1], re.I)
    words = ["free fall", "free-fall", "carefree fall", "weightlessness", "impacts", "landing", "jerky",
             "stillness", "motionless", "that rest", "rests", "tilted", "RMS", "energy", "minimum",
             "raindrops to", "rotation", "triangular", "|w|", "|ω|", "|accel|", "|a|", "aperiodic",
             "cadence", "clips", "recording", "event", "this clip", "here", "3-axis", "6-D", "IMU2",
             "-1.5 m/s^2", "2 s", "5 seconds", "3 Hz", "|gx|", "gz", "x", "y-axis", "`a~aug1`", "٣ s",
             "٣.٥ Hz", "ſtill", "İmpact", "ſpecific force", "ESTILL", "the", "is", "12.5", "0.3 rad/s",
             "per minute", "°", "deg", "(", ".", "--2", "b|x|"]
    words += ["no", "not", "Not", "without", "never", "nor", "absence of", "lacks", "neither", "would",
              "could", "might", "if", "after", "after which", "preceded by", "following", "then",
              "followed by", "before", "later", "next", "leading to", "until", "higher than",
              "smaller  than", "hazard", 'hazard: "falling"', 'HAZARD "x"', 'activity "walking"',
              "is safe", "is not unsafe", "(unsafe", " safe", "unsafe", "!", "?", "\n", "\t", '"']
    others = [getattr(K, n) for n in ("_NEGATION", "_HYPOTHETICAL", "_REVERSE", "_FORWARD", "_COMPARE",
                                      "_HAZARD_RE", "_ACTIVITY_RE", "_VERDICT_RE", "_SENTENCE_BREAK",
                                      "_SHAPE_SPLIT")]
    pairs = [(rx, re.compile(rx.pattern.split(")(?:", 1)[1][:-1], rx.flags)) for rx in [K._MASTER, *others]]
    assert pairs[0][1].pattern == plain.pattern
    rng = np.random.default_rng(0)
    for _ in range(1500):
        s = "".join(str(rng.choice(words)) + str(rng.choice(["", " ", ", ", "-", ". "])) for _ in range(12))
        for fast, slow in pairs:
            got = [(m.lastgroup, m.span(), m.groups()) for m in fast.finditer(s)]
            assert got == [(m.lastgroup, m.span(), m.groups()) for m in slow.finditer(s)], (fast.pattern, s)
            assert fast.split(s) == slow.split(s)


def test_sentences_of_one_shape_share_a_plan_and_keep_their_own_values(fall, walk):
    """The checker reads a sentence's structure once per shape (numbers and plain clip ids
    written canonically) and checks each sentence on its own numbers, clips and distances."""
    from dataclasses import replace

    from imu2safety.builders.instructions import checker as K

    short, long = replace(fall, id="f"), replace(fall, id="fall_recording_01")
    known = {c.id: c for c in (fall, walk, short, long)}
    right = f"`{fall.id}` has an impact of 50.0 m/s² at 1.30 s."
    wrong = f"`{walk.id}` has an impact of 50.0 m/s² at 1.30 s."
    other = "`x~aug2` has an impact of 7.1 m/s² at 12.05 s."
    assert K._shape(right)[0] == K._shape(wrong)[0] == K._shape(other)[0]
    K._plan.cache_clear()
    assert check_text(right, walk, known) == []
    problems = check_text(wrong, fall, known)
    assert f"claims a impact in `{walk.id}`, which the facts do not show" in problems
    assert any(p.startswith("50.0 m/s² matches no fact of `walk_01`") for p in problems)
    assert check_text(other, fall, known) == ["unknown clip id `x~aug2`", "7.1 m/s² matches no fact of "
                                              "`fall_01` (impact_ms2=50.0)",
                                              "12.05 s matches no fact of `fall_01` (impact_time_s=1.3)"]
    assert K._plan.cache_info().misses == 1  # one shape, three sentences
    # an axis labels a rad/s number within 12 characters of the sentence itself, not of its shape:
    # "z `f` 0.50" says |gz| peaks at 0.50 rad/s (it is 3.00); the long id parts them: a rotation rate
    near, far = (f"The rotation peaks at z `{c.id}` 0.50 rad/s." for c in (short, long))
    assert K._shape(near)[0] == K._shape(far)[0]
    assert any("0.50 rad/s matches no fact" in p for p in check_text(near, fall, known))
    assert check_text(far, fall, known) == []
    # numbers that name no quantity ("3-axis") and units with digits ("m/s^2") keep their text
    assert K._shape("a 3-axis IMU reads 9.8 m/s^2 and 12 m/s3")[0] == "a 3-axis IMU reads 0.0 m/s^2 and 0 m/s3"


def test_checker_reads_every_value_from_the_sentence_itself(fall, walk):
    """The shape rewrites numbers and plain ids; what the checker quotes and compares is the
    sentence's own text, also where a token holds more than a rewritten span (a sign after "^":
    "^-3.5") or a quoted label holds numbers and ids."""
    from dataclasses import replace

    known = {c.id: c for c in (fall, walk)}
    impact = fmt(fall.facts["impact_ms2"], "ms2")
    assert check_text(f"The impact reaches ^{impact}.", fall, known) == []
    assert check_text(f"The impact reaches ^-{impact}.", fall, known) == [
        f"-{impact} matches no fact of `fall_01` (impact_ms2={fall.facts['impact_ms2']!r})"]
    label = 'Safe (activity "12 steps `x` 3.5 rad/s").'
    problems = check_text(label, walk, known)
    assert problems[0] == "unknown clip id `x`" and problems[1].startswith("number 12 without a unit")
    assert problems[-1] == "activity \"12 steps `x` 3.5 rad/s\" but `walk_01` is 'walking'"
    # the right label, quoted with digits and a clip id in it, is read whole and passes
    odd = replace(walk, id="odd_1", activity="3 steps `walk_01` 2")
    problems = check_text('Safe (activity "3 steps `walk_01` 2").', odd, {**known, "odd_1": odd})
    assert [p.split(" in ")[0] for p in problems] == ["number 3 without a unit", "number 2 without a unit"]
