"""Small comforts of the command line (issue 6, item 14): ``python -m imu2safety``, help for every
positional, -q / --log-level, grouped skip reasons, a progress bar that counts inputs and clips."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from imu2safety.builders import build as build_mod
from imu2safety.builders.build import build, format_report
from imu2safety.builders.sources import SOURCE_PATHS
from imu2safety.cli import main, make_parser

from test_build import _opts, utd_dir  # noqa: F401 (utd_dir is a fixture)

ROOT = Path(__file__).resolve().parents[1]


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "imu2safety", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: imu2safety" in done.stdout and "build" in done.stdout


def _positionals(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from _positionals(command, f"{prefix} {name}")
        elif not action.option_strings:
            yield prefix, action


def test_every_positional_has_help_and_build_names_each_source_folder(capsys):
    found = list(_positionals(make_parser()))
    assert len(found) >= 6
    for where, action in found:
        assert action.help, f"{where}: {action.dest} has no help"
    try:
        main(["build", "--help"])
    except SystemExit:
        pass
    text = capsys.readouterr().out
    for source in SOURCE_PATHS:
        assert f"  {source} " in text, source
    assert "Skeleton/" in text and "Inertial/" in text and "labels.csv" in text and "50Hz/" in text


def test_quiet_and_log_level(utd_dir, tmp_path, capsys):
    args = ["build", "utd-mhad", "--input", str(utd_dir), "--output", str(tmp_path / "a")]
    assert main([*args, "-q"]) == 0
    out = capsys.readouterr()
    assert out.err == "" and len(out.out.strip().splitlines()) == 1  # the one-line summary
    assert main(["--log-level", "debug", *args[:-1], str(tmp_path / "b")]) == 0
    assert "skips (clips or inputs) by reason" in capsys.readouterr().out


def test_repeated_skip_reasons_are_grouped():
    reasons = {f"accelerometer and gyroscope overlap for only {s:.2f} s without a gap over 0.5 s; "
               "need at least 1.0 s": 1 for s in (0.12, 0.53, 0.71)}
    reasons["gyroscope file 'S29A01T01.csv' is missing"] = 2
    reasons["gyroscope file 'S30A02T03.csv' is missing"] = 1
    reasons["no data rows"] = 4
    report = {"config": "smartfallmm-imu", "inputs": 20, "inputs_written": 10, "inputs_skipped": 10,
              "rows": {"train": 10}, "class_counts": {}, "skip_reasons": reasons}
    lines = format_report(report).splitlines()
    body = lines[lines.index(next(l for l in lines if l.startswith("skips"))) + 1:]
    assert len(body) == 3
    counts = sorted(int(l.split()[0]) for l in body)
    assert counts == [3, 3, 4]
    assert any("overlap for only # s" in l and "(e.g. accelerometer" in l for l in body)


def test_progress_bar_counts_inputs_and_clips(utd_dir, tmp_path, monkeypatch):
    seen = {}

    class Bar:
        def __init__(self, total=None, unit=None, **kw):
            seen.update(total=total, unit=unit, n=0, clips=None)

        def update(self, n=1):
            seen["n"] += n

        def set_postfix(self, clips=None, **kw):
            seen["clips"] = clips

        def close(self):
            pass

    monkeypatch.setattr(build_mod, "tqdm", Bar)
    rep = build(_opts(utd_dir, tmp_path / "ds"), progress=False).report
    assert seen["unit"] == "input" and seen["total"] == seen["n"] == rep["inputs"] == 11
    assert seen["clips"] == sum(rep["rows"].values()) == 9
