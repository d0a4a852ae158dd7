"""The instruction pass's shortcuts draw, write and check exactly what the plain paths do."""

from __future__ import annotations

import numpy as np

from imu2safety.builders.instructions.templates import _Pick
from imu2safety.simulator.rng import clip_rng


def test_pick_draws_like_numpy():
    """``_Pick.one`` / ``shuffled`` pick what ``Generator.integers(n)`` / ``permutation(n)`` of the
    same stream pick, interleaved in any order, for bounds that need NumPy's rejection loops
    (n close to 2**32; masks of 2**k - 1 over n = 2**(k-1) + 1)."""
    bounds = [1, 2, 3, 5, 6, 9, 17, 1000, 2**31 + 7, 3 * 2**30 + 1, 2**32 - 1]
    for s in range(100):
        cid = f"S{s:03d}C001P001R001A{1 + s % 120:03d}"
        mine, numpy_rng = _Pick(s, cid, "description"), clip_rng(s, cid, "pairs/description")
        draws = np.random.default_rng(s)
        for _ in range(40):  # longer than a block of words: refills are seamless
            if draws.random() < 0.7:
                n = int(bounds[draws.integers(len(bounds))])
                assert mine.below(n) == int(numpy_rng.integers(n)), (s, n)
            else:
                items = list(range(int(draws.integers(0, 9))))
                assert mine.shuffled(items) == [items[i] for i in numpy_rng.permutation(len(items))]


def test_pick_draws_like_numpy_from_a_build_s_generators():
    """The generators the pass hands over (``ClipGenerators`` items, one object reset per clip)."""
    from imu2safety.simulator.rng import ClipGenerators

    ids = [f"c{k}" for k in range(40)]
    gens = ClipGenerators(3, ids, "pairs/causal")
    for k, cid in enumerate(ids):
        mine, numpy_rng = _Pick(3, cid, "causal", gens[k]), clip_rng(3, cid, "pairs/causal")
        for n in (2, 3, 5, 3, 4, 2, 6, 3, 5, 2, 3, 5, 3, 4, 2, 6, 3, 5, 7):  # past one block of words
            assert mine.one(range(n)) == int(numpy_rng.integers(n))
        assert mine.shuffled(list("abcd")) == [list("abcd")[i] for i in numpy_rng.permutation(4)]


# ---- marked texts: the checker's shortcut finds exactly what the plain checker finds ----

def _facts(rng: np.random.Generator) -> dict:
    """Facts of a random clip: those of a fall or a walk (``compute_facts``), every number scaled
    at random, some optional facts dropped, axes drawn."""
    from imu2safety.builders.instructions.facts import G, compute_facts

    n = int(rng.integers(200, 600))
    imu = np.zeros((n, 6))
    if rng.random() < 0.5:  # a fall: rest, free fall, an impact sample, rest on the side
        a, b = int(rng.integers(40, n // 3)), int(rng.integers(5, 40))
        imu[:a, 2] = G
        imu[a + b, 0] = rng.uniform(5, 80)
        imu[a + b + 1:, 0] = G
        imu[a // 2:a + b, 5] = rng.uniform(0.2, 4)
    else:  # a walk
        t = np.arange(n) / 50
        imu[:, 2] = G + rng.uniform(0.5, 3) * np.sin(2 * np.pi * rng.uniform(0.8, 2.5) * t)
        imu[:, 3 + int(rng.integers(3))] = rng.uniform(0.1, 2) * np.sin(2 * np.pi * 0.8 * t)
    f = compute_facts(imu, float(rng.choice([50.0, 100.0])))
    for k, v in f.items():
        if isinstance(v, float) and rng.random() < 0.3:
            f[k] = v * float(rng.uniform(0.3, 3))
    return f


#: Labels and ids, with some that a marked text cannot keep as its plain text's shape has them
#: (digits, backticks, a sentence break, a space or a mark in an id).
_ACTIVITIES = ["walking", "sitting down", "pick up", "clapping", "walk 2 steps", "sit `down`", "Stop. Go",
               "hand\nwave"]
_IDS = ["S001C001P001R001A001", "clip~aug1", "a.b-c+d", "ü_7", "x y", "odd\x02id", "3"]


def _clip(rng: np.random.Generator, k: int):
    from imu2safety.builders.instructions.checker import ClipInfo
    from imu2safety.builders.labels import HAZARD_NAMES

    cid = f"{_IDS[k % len(_IDS)]}_{k}" if rng.random() < 0.9 else f"`{k}"
    hazard = str(rng.choice(HAZARD_NAMES)) if rng.random() < 0.6 else "none"
    return ClipInfo(cid, hazard, str(rng.choice(_ACTIVITIES)), _facts(rng))


def _mutate(rng: np.random.Generator, text: str, ids: list[str]) -> str:
    """One random edit of a marked text: a value, a sentence mark, an inserted or deleted piece."""
    from imu2safety.builders.instructions.checker import END, SENTENCE, VALUE

    kind = int(rng.integers(6))
    if kind == 0 and VALUE in text:  # another value between the marks
        pieces = text.split(VALUE)
        k = int(rng.integers(1, len(pieces)))
        _, sep, rest = pieces[k].partition(END)
        new = str(rng.choice(["12.3", "0.50", "-0.0", "-1.25", "7", "1e3", "12.5-", "٣.٥", "9.80",
                              f"`{rng.choice(ids)}`", "`unknown_9`", "`a b`", "``", "x"]))
        pieces[k] = new + sep + rest
        return VALUE.join(pieces)
    if kind == 1 and SENTENCE in text:  # the break between two sentences
        pieces = text.split(SENTENCE)
        k = int(rng.integers(1, len(pieces)))
        new = str(rng.choice([" ", "  ", ", ", "\n", "; ", SENTENCE + SENTENCE, SENTENCE + " "]))
        if rng.random() < 0.3:
            pieces[k] = pieces[k][:1].lower() + pieces[k][1:]
            new = SENTENCE
        return pieces[k - 1] + new + pieces[k] if len(pieces) == 2 else \
            SENTENCE.join(pieces[:k - 1] + [pieces[k - 1] + new + pieces[k]] + pieces[k + 1:])
    if kind == 2:  # a word swapped for another the checker reads
        swaps = [("impact", "free fall"), ("free fall", "impact"), ("higher", "lower"), ("lower", "higher"),
                 ("no ", ""), (" x axis", " z axis"), ("rotation", "impact"), ("(safe", "(unsafe"),
                 ("Safe", "Unsafe"), ("Unsafe", "Safe"), (", then ", " after "), ("this clip", "it"),
                 ("hazard \"", "hazard \"x")]
        a, b = swaps[int(rng.integers(len(swaps)))]
        return text.replace(a, b, 1)
    at = int(rng.integers(len(text) + 1))
    if kind == 3:  # something inserted anywhere
        new = str(rng.choice(["5", "`", "-", " ", ". ", ". X", "\n", "no ", "not ", "would ", "than ",
                              '"', "|", "^", VALUE, END, SENTENCE, "Then ", " 3 s", " at 2.00 s", "z "]))
        return text[:at] + new + text[at:]
    if kind == 4:  # a character deleted (a mark, a digit, a space, ...)
        return text[:at] + text[at + 1:]
    return text


def _outcome(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except AssertionError as e:  # (the plain checker's own consistency check)
        return ("AssertionError", str(e))


def test_marked_check_finds_what_the_plain_check_finds():
    """``check_pair(marked=True)`` on the templates' marked texts returns the very problems
    ``check_pair`` returns on their plain texts: on the templated pairs of random clips (facts,
    labels and ids, some that no marked text can carry), checked against their own and against
    wrong facts, and on thousands of mutated marked texts (values, sentence breaks, words,
    inserted and deleted characters). Where the marks show the sentences, the shortcut is taken
    (and finds problems itself), else the plain text is split."""
    from dataclasses import replace

    from imu2safety.builders.instructions import checker as K
    from imu2safety.builders.instructions.templates import template_pairs

    rng = np.random.default_rng(7)
    clips = [_clip(rng, k) for k in range(60)]
    shortcut = shortcut_problems = compared = 0
    for k, c in enumerate(clips):
        ref = next(x for x in clips[k + 1:] + clips[:k] if x.safe != c.safe)  # (a causal reference)
        other = clips[(k + 7) % len(clips)]
        known = {x.id: x for x in (c, ref, other)}
        plain_ok = not K.has_marks(*(t for x in known.values() for t in (x.id, x.activity, x.hazard)))
        marked = template_pairs(c, k, ref, other, marked=True)
        plain = template_pairs(c, k, ref, other)
        wrong = replace(c, facts=clips[(k + 3) % len(clips)].facts)  # the same texts, other facts
        for mp, pp in zip(marked, plain):
            if plain_ok:
                assert {key: K.unmark(v) for key, v in mp.items()} == pp
                fast = [K._marked_sentences(mp[key]) for key in ("instruction", "response")]
                if K._value_shape(f"`{c.id}`") and all(K._value_shape(f"`{x.id}`") for x in (ref, other)) \
                        and not any(ch in x.activity for x in known.values() for ch in "0123456789`.\n"):
                    assert None not in fast, mp  # templated texts of plain labels and ids: the shortcut
            for clip in (c, wrong):
                texts = [mp] + [{**mp, key: _mutate(rng, mp[key], list(known))}
                                for key in ("instruction", "response", "response", "response") for _ in range(3)]
                for t in texts:
                    got = _outcome(K.check_pair, t, clip, known, marked=True)
                    want = _outcome(K.check_pair, {key: K.unmark(v) for key, v in t.items()}, clip, known)
                    assert got == want, (t, got, want)
                    compared += 1
                    if K._marked_sentences(t["response"]) is not None:
                        shortcut += 1
                        shortcut_problems += bool(got)
    assert compared > 5000 and shortcut > compared // 3 and shortcut_problems > 500, \
        (compared, shortcut, shortcut_problems)


def test_pick_one_draws_like_numpy_for_every_bound():
    """``_Pick.one`` (``below`` inlined) picks what ``Generator.integers(n)`` picks, bounds that
    need the rejection loop included."""
    bounds = [1, 2, 3, 5, 17, 1000, 2**31 + 7, 3 * 2**30 + 1, 2**32 - 1]
    for s in range(60):
        cid = f"c{s}"
        mine, numpy_rng = _Pick(s, cid, "comparative"), clip_rng(s, cid, "pairs/comparative")
        for k in range(30):
            n = bounds[(s + 7 * k) % len(bounds)]
            assert mine.one(range(n)) == int(numpy_rng.integers(n)), (s, n)


def test_clip_streams_are_seeded_from_the_hash_of_id_and_stream():
    """``clip_rng`` and ``ClipGenerators`` items draw what NumPy's generator seeded with the seed's
    low 32 bits and the first four little-endian words of sha256(id NUL stream) draws."""
    import hashlib

    from imu2safety.simulator.rng import ClipGenerators

    ids = [f"S{k:03d}C001P001R001A{k % 120 + 1:03d}" for k in range(20)]
    gens = ClipGenerators(2**33 + 5, ids, "pairs/description")
    for k, cid in enumerate(ids):
        words = np.frombuffer(hashlib.sha256(f"{cid}\0pairs/description".encode()).digest()[:16], "<u4")
        want = np.random.default_rng([5, *words.tolist()]).integers(1 << 62, size=5)
        assert clip_rng(2**33 + 5, cid, "pairs/description").integers(1 << 62, size=5).tolist() == want.tolist()
        assert gens[k].integers(1 << 62, size=5).tolist() == want.tolist()


def test_a_row_s_checks_sharing_formatted_facts_find_what_the_plain_check_finds():
    """``checked_pair`` as the pass calls it (one ``Formatted`` memo of the row's clips shared by
    its pairs: facts formatted once, numbers at other decimals formatted anew) gives the plain
    texts and the problems ``check_pair`` finds in them: on templated pairs and mutated ones
    (wrong numbers, axes, labels, events), and on numbers written at other decimals."""
    from dataclasses import replace

    from imu2safety.builders.instructions import checker as K
    from imu2safety.builders.instructions.templates import template_pairs

    rng = np.random.default_rng(11)
    clips = [_clip(rng, k) for k in range(40)]
    found = compared = 0
    for k, c in enumerate(clips):
        ref = next(x for x in clips[k + 1:] + clips[:k] if x.safe != c.safe)
        other = clips[(k + 5) % len(clips)]
        for clip in (c, replace(c, facts=clips[(k + 3) % len(clips)].facts)):
            known = {x.id: x for x in (ref, other)}
            known[clip.id] = clip
            formatted: dict = {}  # (one per row: the clips of ``known``)
            for mp in template_pairs(c, k, ref, other, marked=True):
                texts = [mp] + [{**mp, key: _mutate(rng, mp[key], list(known))}
                                for key in ("instruction", "response", "response") for _ in range(3)]
                # a number at other decimals (12.34 -> 12.340, 12.3 -> 12.30): read against the facts anew
                texts.append({**mp, "response": mp["response"].replace(K.END + " ", "0" + K.END + " ", 1)})
                for t in texts:
                    plain = {key: K.unmark(v) for key, v in t.items()}
                    got = _outcome(K.checked_pair, t, clip, known, True, formatted)
                    want = _outcome(K.check_pair, plain, clip, known)
                    if isinstance(got, tuple) and got[0] != "AssertionError":
                        assert got[1] == plain
                        got = got[0]
                    assert got == want, (t, got, want)
                    compared += 1
                    found += bool(want)
            assert set(formatted) <= set(known)
    assert compared > 2000 and found > 300, (compared, found)


def test_formatted_facts_read_numbers_at_any_decimals():
    """A number at its unit's decimals is read from the memo, one at other decimals is formatted
    anew (12.25 m/s² reads "12.2" and "12.25", never "12.3"), a missing fact reads nothing."""
    from imu2safety.builders.instructions import checker as K

    clip = K.ClipInfo("a", "none", "walking", {"peak_accel_ms2": 12.25, "peak_accel_time_s": 1.0})
    formatted: dict = {}
    for text, ok in (("Its peak |accel| is 12.2 m/s² at 1.00 s.", True), ("Its peak |accel| is 12.25 m/s².", True),
                     ("Its peak |accel| is 12.3 m/s².", False), ("Its peak |accel| is 12 m/s².", True),
                     ("Its peak |accel| is 12.250 m/s² at 1.0 s.", True), ("Its RMS energy is 2.0 m/s².", False)):
        marked = K.mark_sentences(text)
        assert (K.checked_pair({"kind": "description", "instruction": "Describe it.", "response": marked},
                               clip, {}, True, formatted)[0] == []) == ok, text
        assert (K.check_pair({"kind": "description", "instruction": "Describe it.", "response": text},
                             clip, {}) == []) == ok, text
    assert formatted["a"]["peak_accel_ms2"] == "12.2" and formatted["a"]["rms_accel_ms2"] is None


def test_stream_heads_draw_what_numpy_draws():
    """``pcg64_head`` gives the words NumPy's PCG64 draws from the same SeedSequence states (edge
    states included: zero, all ones, carries through every half), and a ``_Pick`` on a
    ``ClipGenerators.start`` (vectorised seeding or NumPy's for a few clips) picks what the
    clip's own generator picks, past the end of the head too."""
    from imu2safety.simulator.rng import ClipGenerators, pcg64_head

    top = 2**64 - 1
    states = np.array([[0, 0, 0, 0], [top, top, top, top], [top, 0, top, 0], [0, top, 0, top],
                       [1, top, 2**63, top], *np.random.default_rng(3).integers(0, top, (40, 4), dtype=np.uint64,
                                                                                  endpoint=True)],
                      dtype=np.uint64)
    words = pcg64_head(states, 7)
    for row, got in zip(states.tolist(), words.tolist()):
        bits = np.random.PCG64(0)
        inc = ((row[2] << 64 | row[3]) << 1 | 1) & (2**128 - 1)
        state = ((inc + (row[0] << 64 | row[1])) * 0x2360ED051FC65DA44385DF649FCCF645 + inc) & (2**128 - 1)
        bits.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc}, "has_uint32": 0, "uinteger": 0}
        assert got == bits.random_raw(7).astype("<u8").view("<u4").tolist()
    for n_clips in (5, 40):  # (fewer than ``rng._BATCHED``: NumPy's seeding; more: vectorised)
        ids = [f"S{k:03d}C002P003R001A{k + 1:03d}" for k in range(n_clips)]
        gens = ClipGenerators(9, ids, "pairs/comparative", head_outputs=3)
        for k, cid in enumerate(ids):
            mine, numpy_rng = _Pick(9, cid, "comparative", gens.start(k)), clip_rng(9, cid, "pairs/comparative")
            for n in (2, 3, 5, 3, 2, 6, 7, 3, 5, 2, 3, 2**32 - 1, 4, 2, 6, 3, 5):  # (past the head's 6 words)
                assert mine.below(n) == int(numpy_rng.integers(n)), (n_clips, k, n)
            assert mine.shuffled(list("abcde")) == [list("abcde")[i] for i in numpy_rng.permutation(5)]
