"""The ``imu2safety`` command line. Run ``imu2safety COMMAND --help`` for each command."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from . import __version__


def _fail(message: str) -> int:
    print(f"imu2safety: error: {message}", file=sys.stderr)
    return 2


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"imu2safety: warning: {message}", file=sys.stderr)


def _sim_args(p: argparse.ArgumentParser) -> None:
    from .simulator.devices import DEVICES
    from .simulator.placement import PLACEMENTS

    p.add_argument("--placement", default="left_wrist", choices=PLACEMENTS)
    p.add_argument("--rate", type=float, default=50.0, help="device output rate, Hz (default 50)")
    p.add_argument("--device", default="ideal", choices=sorted(DEVICES),
                   help="device noise model (default ideal)")
    p.add_argument("--seed", type=int, default=0, help="base seed; noise per clip from (seed, clip id)")
    p.add_argument("--calibration", type=Path, help="sim-to-real calibration JSON (imu2safety calibrate)")


def cmd_simulate(args) -> int:
    from .simulator.imu import SimulationOptions, simulate
    from .simulator.motion import MotionError
    from .simulator.readers import read_motion, write_imu

    try:
        cal = None
        if args.calibration:
            from .simulator.calibration import Calibration

            cal = Calibration.load(args.calibration)
        opts = SimulationOptions(placement=args.placement, rate_hz=args.rate, device=args.device,
                                 seed=args.seed, calibration=cal,
                                 cutoff_hz="auto" if args.cutoff is None else
                                 (None if args.cutoff <= 0 else args.cutoff))
        source = read_motion(args.input)
        rec = simulate(source, opts, clip_id=args.clip_id or Path(args.input).stem)
        write_imu(args.output, rec.accel, rec.gyro, rec.timestamps, rec.sample_rate_hz)
    except (MotionError, ValueError, OSError) as err:
        return _fail(str(err))
    print(f"wrote {len(rec.timestamps)} samples at {rec.sample_rate_hz:g} Hz to {args.output}")
    return 0


def cmd_build(args) -> int:
    from .builders.build import BuildOptions, RayOptions, build, format_report

    options = {}
    for kv in args.source_option or []:
        key, sep, value = kv.partition("=")
        if not sep:
            return _fail(f"--source-option takes KEY=VALUE, got {kv!r}")
        options[key.replace("-", "_")] = value
    try:
        opts = BuildOptions(source=args.source, input_dir=args.input, output_dir=args.output,
                            rate_hz=args.rate, placement=args.placement, device=args.device,
                            seed=args.seed, calibration=args.calibration, cutoff_hz=args.cutoff,
                            augment=args.augment, num_proc=args.num_proc,
                            chunk_inputs=args.chunk_inputs, source_options=options,
                            instructions=args.instructions, teacher=args.teacher,
                            teacher_model=args.teacher_model, teacher_key_env=args.teacher_key_env,
                            engine=args.engine,
                            ray=RayOptions(address=args.ray_address, workers=args.workers,
                                           num_gpus_per_worker=args.num_gpus_per_worker))
        result = build(opts, repo_id=args.repo_id)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as err:
        return _fail(str(err))
    print(format_report(result.report))
    print(f"{result.seconds:.1f} s, {result.clips_per_s:.1f} clips/s, "
          f"{result.input_mb_per_s:.1f} MB/s of input; dataset in {args.output}")
    return 0


def cmd_calibrate(args) -> int:
    from .builders.calibrate import calibrate_from_builds

    try:
        cal, summary = calibrate_from_builds(args.real, args.synthetic, real_config=args.real_config,
                                             synthetic_config=args.synthetic_config)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    cal.save(args.output)
    print(summary)
    print(f"wrote {args.output}")
    return 0


def cmd_push(args) -> int:
    from .builders.dataset.hub import push_dataset

    from huggingface_hub import get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if not get_token():
        return _fail("no Hugging Face token: set HF_TOKEN (a write token) or log in with `hf auth login`")
    try:
        url = push_dataset(args.folder, args.repo_id, private=args.private)
    except (ValueError, FileNotFoundError, HfHubHTTPError, OfflineModeIsEnabled) as err:
        return _fail(f"push to {args.repo_id} failed: {str(err).splitlines()[0]}")
    print(f"pushed {args.folder} to {url}")
    return 0


def cmd_export_hdf5(args) -> int:
    from .builders.dataset.hdf5 import export_hdf5

    try:
        export_hdf5(args.folder, args.output)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    print(f"wrote {args.output}")
    return 0


def cmd_demo(args) -> int:
    from .builders.demo import run_demo

    return run_demo(Path(args.output))


def cmd_reconstruct(args) -> int:
    from .builders.video.cli import run_reconstruct

    return run_reconstruct(args, _fail)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imu2safety", description=__doc__)
    parser.add_argument("--version", action="version", version=f"imu2safety {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="simulate the wrist IMU of one motion file (.npz, .bvh)")
    p.add_argument("input", type=Path, help="skeleton .npz, rigid-body .npz or .bvh")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .npz or .csv")
    _sim_args(p)
    p.add_argument("--cutoff", type=float, default=None,
                   help="low-pass cutoff of the motion, Hz; 0 disables (default: by input kind, "
                        "15 for optical motion capture (rigid body), 3-4 for Kinect skeletons, "
                        "8 for other skeletons)")
    p.add_argument("--clip-id", help="clip id for the noise stream (default: the file stem)")
    p.set_defaults(func=cmd_simulate)

    from .builders.sources import SOURCE_PATHS

    p = sub.add_parser("build", help="build a dataset config from a source folder")
    p.add_argument("source", choices=sorted(SOURCE_PATHS))
    p.add_argument("--input", type=Path, required=True, help="the source's folder")
    p.add_argument("--output", type=Path, required=True, help="dataset folder")
    _sim_args(p)
    p.add_argument("--cutoff", type=float, default=None,
                   help="motion low-pass, Hz (default: the source's recommended value)")
    p.add_argument("--augment", type=int, default=0, metavar="N",
                   help="N extra copies per skeleton clip: jittered mounting, every second one "
                        "mirrored (default 0)")
    p.add_argument("--num-proc", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="where chunks are processed: this machine, or a Ray cluster (the "
                        "`distributed` extra); both write the same dataset")
    p.add_argument("--ray-address", default=None,
                   help="Ray cluster to join (e.g. auto, ray://HEAD:10001); default: start one here")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray read/reconstruct actors (default: the cluster's CPU count)")
    p.add_argument("--num-gpus-per-worker", type=float, default=0.0,
                   help="GPUs per Ray read actor, for video sources (default 0)")
    p.add_argument("--chunk-inputs", type=int, default=256,
                   help="input files per committed chunk/shard (keep it when resuming)")
    p.add_argument("--source-option", action="append", metavar="KEY=VALUE",
                   help="source reader option, e.g. protocol=xview for ntu")
    p.add_argument("--repo-id", help="ORG/NAME used in the card's loading example")
    p.add_argument("--instructions", action=argparse.BooleanOptionalAction, default=True,
                   help="write checked instruction-response pairs into every row (default on)")
    p.add_argument("--teacher", default="none", metavar="none|local:MODEL|openai:URL",
                   help="rewrite the templated answers with a teacher model (default none); its "
                        "output passes the checker or is discarded")
    p.add_argument("--teacher-model", help="model name at an openai: endpoint")
    p.add_argument("--teacher-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the endpoint's API key (never logged)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("calibrate", help="fit the sim-to-real calibration from two builds")
    p.add_argument("--real", type=Path, required=True, help="dataset folder with a real-IMU config")
    p.add_argument("--synthetic", type=Path, required=True, help="dataset folder with its synthetic twin")
    p.add_argument("--real-config", help="config in --real (default: its only/first real config)")
    p.add_argument("--synthetic-config", help="config in --synthetic (default: its first config)")
    p.add_argument("-o", "--output", type=Path, required=True, help="calibration JSON")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("push", help="push a dataset folder to the Hugging Face Hub (HF_TOKEN)")
    p.add_argument("folder", type=Path)
    p.add_argument("--repo-id", required=True, help="ORG/NAME")
    p.add_argument("--private", action="store_true")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("export-hdf5", help="export a dataset folder to one HDF5 file")
    p.add_argument("folder", type=Path)
    p.add_argument("output", type=Path)
    p.set_defaults(func=cmd_export_hdf5)

    from .builders.video.cli import add_reconstruct_parser

    add_reconstruct_parser(sub, cmd_reconstruct)

    p = sub.add_parser("demo", help="build, load and describe a dataset from the shipped sample")
    p.add_argument("-o", "--output", default="imu2safety-demo", help="output folder")
    p.set_defaults(func=cmd_demo)

    from .evaluation.commands import add_commands

    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    warnings.showwarning = _show_warning
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
