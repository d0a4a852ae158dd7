"""A video build (Stage 1 with tiny random-weight RT-DETR / ViTPose, then Stage 2) through
`--engine ray` on a local Ray instance is byte-identical to the local engine's build."""

from __future__ import annotations

import hashlib
from pathlib import Path

import ray

from imu2safety.builders import engine_ray
from imu2safety.builders.build import BuildOptions, RayOptions, build
from videofixtures import write_corrupt
from videokit import render_video, tiny_detector, tiny_vitpose


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_video_build_through_ray_equals_the_local_build(tmp_path):
    root = tmp_path / "k700"
    (root / "kinetics700_2020").mkdir(parents=True)
    (root / "kinetics700_2020" / "train.csv").write_text(
        "label,youtube_id,time_start,time_end,split\n"
        '"punching person (boxing)",box-00_0001,4,14,train\n'
        "falling off bike,bikefall001,0,10,train\n"
        "capoeira,corrupt0001,0,10,train\n")
    clips = root / "clips"
    clips.mkdir()
    render_video(clips / "box-00_0001_000004_000014.mp4", n=16, fps=8,
                 people=[dict(x=25, vx=1.0, top=15, height=60), dict(x=90, vx=-0.8, top=20, height=55)])
    render_video(clips / "bikefall001_000000_000010.mp4", n=16, fps=8)
    write_corrupt(clips / "corrupt0001_000000_000010.mp4")
    stage1 = {"detector": str(tiny_detector(tmp_path / "det")),
              "pose_model": str(tiny_vitpose(tmp_path / "pose")), "min_track_s": 0.5,
              "batch_size": 16, "min_keypoint_score": 0.0}

    def opts(out: Path, engine: str, cache: Path) -> BuildOptions:
        return BuildOptions(source="kinetics", input_dir=root, output_dir=out, stage1=stage1,
                            stage1_cache=cache, chunk_inputs=1, engine=engine,
                            ray=RayOptions(workers=2, num_cpus=2))

    local = build(opts(tmp_path / "local", "local", tmp_path / "cache-local"), progress=False)
    assert local.report["inputs_written"] >= 1
    # its own, empty Stage-1 cache: the Ray actors run the models themselves
    build(opts(tmp_path / "ray", "ray", tmp_path / "cache-ray"), progress=False)
    assert not ray.is_initialized()
    assert engine_ray.STAGE_TIMES["chunks"] == local.report["inputs"]
    assert any((tmp_path / "cache-ray").rglob("*.npz"))
    assert _tree(tmp_path / "ray") == _tree(tmp_path / "local")
