"""``--source-option KEY=VALUE`` strings become the source option's type (int, float, bool)."""

from __future__ import annotations

import json

import pytest

from imu2safety.builders.sources import coerce_options, parse_options
from imu2safety.builders.sources import ntu, up_fall
from imu2safety.cli import main

from test_source_up_fall import dataset


def test_strings_take_the_declared_types():
    got = coerce_options("up-fall", {"rate_hz": "25", "chunk_rows": "10", "max_gap_s": "0.25"})
    assert got == {"rate_hz": 25.0, "chunk_rows": 10, "max_gap_s": 0.25}
    assert type(got["rate_hz"]) is float and type(got["chunk_rows"]) is int
    assert coerce_options("ntu", {"second_body": "false"}) == {"second_body": False}
    assert coerce_options("ntu", {"second_body": "yes"}) == {"second_body": True}
    assert coerce_options("ntu", {"missing_list": "none"}) == {"missing_list": None}
    # values given from Python are left as they are; unknown names are left to parse_options
    assert coerce_options("up-fall", {"rate_hz": 20, "bogus": "1"}) == {"rate_hz": 20, "bogus": "1"}


def test_a_false_boolean_string_is_false_not_truthy():
    assert parse_options(ntu.Options, "ntu", {"second_body": "false"}).second_body is False
    assert parse_options(ntu.Options, "ntu", {"second_body": "0"}).second_body is False


@pytest.mark.parametrize("options, words", [
    ({"rate_hz": "fast"}, ["up-fall option rate_hz", "a number", "'fast'"]),
    ({"chunk_rows": "1.5"}, ["chunk_rows", "an integer"]),
])
def test_bad_values_name_the_option(options, words):
    with pytest.raises(ValueError) as err:
        parse_options(up_fall.Options, "up-fall", options)
    assert all(w in str(err.value) for w in words)


def test_cli_build_resamples_at_the_rate_given_as_a_string(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    csv = dataset(tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["build", "up-fall", "--input", str(csv.parent), "--output", str(out), "-q", "--no-instructions",
               "--source-option", "rate_hz=10"])
    assert rc == 0, capsys.readouterr().err
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["configs"]["up-fall"]["build_options"]["source_options"] == {"rate_hz": 10.0}
    from datasets import load_dataset
    rows = load_dataset(str(out), "up-fall", split="train")
    assert set(rows["sample_rate_hz"]) == {10.0}
    rc = main(["build", "up-fall", "--input", str(csv.parent), "--output", str(tmp_path / "bad"), "-q",
               "--source-option", "rate_hz=ten"])
    assert rc != 0 and "rate_hz" in capsys.readouterr().err
