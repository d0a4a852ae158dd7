"""The compiled NTU ``.skeleton`` scan (``ntu._scan``) on the edges of its fast paths: token
counts taken 32 bytes at a time (tokens across block edges, lines in the file's last 32 bytes,
a file without a final newline), numbers of every form and trackingState tokens. Each case must
give what the general parser (``parse_skeleton``, Python's ``float``) gives, bit for bit, and
the usual layout must take the compiled path."""

from __future__ import annotations

import numpy as np
import pytest

from imu2safety.builders.sources import ntu
from test_source_ntu import _general, _parsed, single, skeleton_text

FIRST_JOINT = 4  # line index of the first joint line: header, body count, body line, joint count


def _lines(num: int = 2) -> list[str]:
    return skeleton_text(single(num)).split("\r\n")


def _status(data: bytes) -> int:
    return int(ntu._scan(np.frombuffer(data, np.uint8))[0])


def _same(data: bytes, compiled: bool) -> None:
    """The compiled scan equals the general parser; ``compiled``: it took the file itself."""
    assert _parsed(data) == _general(data)
    assert _status(data) == (0 if compiled else 1)


def test_token_counts_at_every_offset_of_the_32_byte_blocks():
    """Blanks before and between the tokens move every token edge across the block edges: twelve
    tokens are counted once each (the compiled path), eleven or thirteen leave the file to the
    general parser."""
    for pad in range(70):
        for sep in (" ", "\t", " \t "):
            lines = _lines()
            joints = range(FIRST_JOINT, FIRST_JOINT + ntu.NUM_JOINTS)
            for i in joints:
                lines[i] = " " * pad + sep.join(lines[i].split(" "))
            _same("\r\n".join(lines).encode(), True)
            _same("\n".join(lines).encode(), True)
            for change in ("extra", "missing"):
                bad = list(lines)
                at = FIRST_JOINT + pad % ntu.NUM_JOINTS
                bad[at] = bad[at] + " 7" if change == "extra" else bad[at].rsplit(sep, 2)[0] + sep + "2"
                _same("\r\n".join(bad).encode(), False)


@pytest.mark.parametrize("ending", ["", "\r\n", "\n", "  ", " \r\n\r\n", "\n\n \n"])
def test_the_last_lines_and_the_end_of_the_file(ending):
    """The last joint lines (in the file's last 32 bytes, read byte by byte) with or without a
    newline, trailing blanks or blank lines; short last lines too."""
    lines = _lines()[:-1]  # (the text's final newline removed)
    for short in (False, True):
        if short:  # twelve short tokens: the whole line within the last 32 bytes
            lines[-1] = "1 2 3 4 5 6 7 8 9 0 1 2"
            lines[-2] = "-.5 +5. 0 4 5 6 7 8 9 0 1 1"
        _same(("\r\n".join(lines) + ending).encode(), True)
        _same(("\r\n".join(lines[:-1]) + "\r\n1 2 3 4 5 6 7 8 9 0 1" + ending).encode(), False)


NUMBERS = [
    "0", "-0", "+0", "0.0", "-0.0", "5.", "-.5", ".5", "+1.5", "0.47124255", "-0.1796089",
    "2.5488327", "0.048561055", "12345678", "1234567.8", "0.12345678", "0.123456789",
    "-0.000000000000001", "123456789012345", "1234567.12345678", "-9.99999999999999",
    "00000000000001.5", "0.000000000000000000012",
]
NOT_COMPILED = [  # forms the compiled scan leaves to the general parser (or takes via ``_float``)
    "1234567.123456789", "1.0000000000000001", "9007199254740993",
    # (16 digits above 2**53: rounded to a float before the division they would differ)
    "0.9007199254740993", "9.999999999999999", "945.9199126513025",
    "1e-3", "-2.5E+2", "1e400", "0x10", "--1", "+", "-", ".", "1..2", "1.2.3", "nan", "inf", "1_0",
]


@pytest.mark.parametrize("text", NUMBERS + NOT_COMPILED)
def test_numbers_equal_python_float(text):
    """x, y and z as every number form: the usual ones are read by the compiled scan and equal
    ``float(text)`` bit for bit (signed zeros included); the others agree with the general
    parser (its value or its error)."""
    for col in range(3):
        lines = _lines()
        tokens = lines[FIRST_JOINT + 3].split(" ")
        tokens[col] = text
        lines[FIRST_JOINT + 3] = " ".join(tokens)
        data = "\r\n".join(lines).encode()
        assert _parsed(data) == _general(data)
        if text in NUMBERS:
            assert _status(data) == 0
            got = ntu.parse_skeleton_bytes(data).xyz[0, 3, col]
            assert np.float64(got).tobytes() == np.float64(float(text)).tobytes()


@pytest.mark.parametrize("text, state", [
    ("0", 0), ("1", 1), ("2", 2), ("3", 0), ("9", 0), ("2.0", 2), ("+2", 2), ("1e0", 1),
    ("-1", 0), ("02", 2), ("0.5", 0), ("x", None), ("-", None), ("2x", None),
])
def test_tracking_state_tokens(text, state):
    """The last token as trackingState (1 and 2 kept, any other number 0): one digit read at
    once, other numbers parsed, anything else left to the general parser."""
    lines = _lines()
    lines[FIRST_JOINT + 7] = lines[FIRST_JOINT + 7].rsplit(" ", 1)[0] + " " + text
    data = "\r\n".join(lines).encode()
    assert _parsed(data) == _general(data)
    assert _status(data) == (1 if state is None else 0)
    if state is not None:
        assert int(ntu.parse_skeleton_bytes(data).state[0, 7]) == state


def test_random_numbers_equal_python_float():
    """x y z of every joint line drawn at random: signs, digits before and after a point (or
    none), leading and trailing zeros. Files whose numbers all have the usual form (a digit,
    at most 15) take the compiled path and give ``float(token)`` bit for bit; files with
    longer or odd numbers agree with the general parser."""
    rng = np.random.default_rng(13)
    digits = np.array(list("0123456789"))

    def token(most: int) -> str:
        sign = str(rng.choice(["", "", "-", "+"]))
        whole = "".join(rng.choice(digits, int(rng.integers(0, min(most, 16) + 1))))
        if rng.random() < 0.2:
            return sign + (whole or "0")
        frac = "".join(rng.choice(digits, int(rng.integers(0, most - len(whole) + 1))))
        return sign + whole + "." + (frac if whole or frac else "0")

    compiled = 0
    for n in range(80):
        usual = n % 2 == 0
        lines = _lines()
        tokens = []
        for i in range(FIRST_JOINT, FIRST_JOINT + ntu.NUM_JOINTS):
            parts = lines[i].split(" ")
            parts[:3] = row = [token(15 if usual else 19) for _ in range(3)]
            if not usual and i == FIRST_JOINT:
                row[0] = parts[0] = "1234567890.1234567"  # (at least one too long)
            tokens.append(row)
            lines[i] = " ".join(parts)
        data = "\r\n".join(lines).encode()
        assert _parsed(data) == _general(data)
        if usual:
            assert _status(data) == 0
            got = ntu.parse_skeleton_bytes(data).xyz[0]
            assert got.tobytes() == np.array([[float(t) for t in row] for row in tokens]).tobytes()
            compiled += 1
    assert compiled == 40
