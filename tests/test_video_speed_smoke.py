"""benchmarks/video_speed.py runs on tiny models and prints every stage (no timing thresholds)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "video_speed.py"


def test_video_speed_runs_and_prints(capsys):
    spec = importlib.util.spec_from_file_location("bench_video_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    res = module.main(["--tiny", "--frames", "2", "--size", "128x96", "--batch-size", "2"])
    out = capsys.readouterr().out
    for row in ("decode", "detect", "track", "pose", "lift", "e2e"):
        assert row in out and math.isfinite(res[row]) and res[row] > 0
    assert res["frames"] == 4  # clips of 2 and 2 frames
    assert res["tracks_last_clip"] == 2  # the two rendered walkers
    assert res["pose_preprocess_speedup"] > 0 and "on-device preprocessing" in out
