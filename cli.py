"""The ``imu2safety`` command line. Run ``imu2safety COMMAND --help`` for each command."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from . import __version__


def _fail(message: str) -> int:
    """Print one line ``imu2safety: error: ...`` (the first line of ``message``); exit status 2."""
    first = str(message).strip().splitlines()[0] if str(message).strip() else "unknown error"
    print(f"imu2safety: error: {first}", file=sys.stderr)
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
    p.add_argument("--force", action="store_true",
                   help="apply a calibration fitted for another placement, rate or device anyway")
    p.add_argument("--calibration-label", metavar="LABEL",
                   help="with a per-label calibration (calibrate --per-label): the label whose maps "
                        "to apply (default: the pooled maps)")
    p.add_argument("--limit", action="append", metavar="KEY=VALUE",
                   help="override a plausibility limit of simulator/limits.py, e.g. max_gap_s=2")


def _key_values(pairs: list[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b-c=x"]`` -> ``{"a": "1", "b_c": "x"}``; ValueError naming a pair without '='."""
    out = {}
    for kv in pairs or []:
        key, sep, value = kv.partition("=")
        if not sep:
            raise ValueError(f"{what} takes KEY=VALUE, got {kv!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def _label_calibration(cal, label: str | None):
    """``cal`` for one clip of ``label`` (its per-label maps, else the pooled ones; a note on
    stderr says which when the calibration holds per-label maps)."""
    if not cal.by_label:
        if label is not None:
            raise ValueError("--calibration-label needs a per-label calibration "
                             "(imu2safety calibrate --unpaired --per-label)")
        return cal
    key = cal.metadata.get("label_key", "label")
    if label is None:
        print(f"note: the calibration holds maps per {key} ({', '.join(sorted(cal.by_label))}); "
              "applying its pooled maps: pass --calibration-label to pick one", file=sys.stderr)
    elif label not in cal.by_label:
        print(f"note: no maps of their own for {key} {label!r}; applying the pooled maps",
              file=sys.stderr)
    return cal.for_label(label)


def cmd_simulate(args) -> int:
    from .simulator.imu import SimulationOptions, simulate
    from .simulator.motion import MotionError
    from .simulator.readers import read_motion, write_imu

    from .simulator.limits import Limits

    try:
        cal = None
        if args.calibration:
            from .simulator.calibration import Calibration, check_applies

            cal = Calibration.load(args.calibration)
            check_applies(cal, args.calibration, placement=args.placement, rate_hz=args.rate,
                          device=args.device, force=args.force)
            cal = _label_calibration(cal, args.calibration_label)
        twist = {}
        if args.twist_model:
            from .simulator.learned_twist import LearnedTwist
            from .simulator.twist import TwistOptions

            twist["twist"] = TwistOptions(source="learned", model=LearnedTwist.load(args.twist_model))
        opts = SimulationOptions(placement=args.placement, rate_hz=args.rate, device=args.device,
                                 seed=args.seed, calibration=cal, **twist,
                                 cutoff_hz="auto" if args.cutoff is None else
                                 (None if args.cutoff <= 0 else args.cutoff),
                                 limits=Limits.from_strings(_key_values(args.limit, "--limit")))
        source = read_motion(args.input)
        rec = simulate(source, opts, clip_id=args.clip_id or Path(args.input).stem)
        write_imu(args.output, rec.accel, rec.gyro, rec.timestamps, rec.sample_rate_hz)
    except (MotionError, ValueError, OSError) as err:
        return _fail(str(err))
    print(f"wrote {len(rec.timestamps)} samples at {rec.sample_rate_hz:g} Hz to {args.output}")
    return 0


#: Build flags of video sources -> ``Stage1Options`` fields (unset flags keep its defaults).
_STAGE1_FLAGS = {"pose_backend": "pose_backend", "detector": "detector", "pose_model": "pose_model",
                 "lifter_checkpoint": "lifter_checkpoint", "stage1_device": "device",
                 "stage1_dtype": "dtype", "batch_size": "batch_size", "min_track_s": "min_track_s"}


def _stage1_options(args) -> dict:
    return {field: getattr(args, flag) for flag, field in _STAGE1_FLAGS.items()
            if getattr(args, flag, None) is not None}


def _stage1_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video sources (Stage 1: video -> 3D motion)")
    g.add_argument("--pose-backend", choices=["vitpose", "blazepose"], help="2D pose backend")
    g.add_argument("--detector", help="RT-DETR person detector (Hub id or folder), or 'hog'")
    g.add_argument("--pose-model", help="ViTPose model (Hub id or folder)")
    g.add_argument("--lifter-checkpoint", help="VideoPose3D .bin checkpoint")
    g.add_argument("--stage1-device", help="torch device of the Stage-1 models, e.g. cpu, cuda "
                                           "(--device names the simulated IMU device)")
    g.add_argument("--stage1-dtype", choices=["fp32", "bf16", "fp16"], help="Stage-1 model dtype")
    g.add_argument("--batch-size", type=int, help="frames per Stage-1 batch")
    g.add_argument("--min-track-s", type=float, help="shortest person track kept, s")
    g.add_argument("--stage1-cache", type=Path,
                   help="Stage-1 cache folder (default ~/.cache/imu2safety/stage1)")


def cmd_build(args) -> int:
    from .builders.build import BuildOptions, RayOptions, build, format_report

    from .builders.sources import VIDEO_SOURCES

    if _stage1_options(args) and args.source not in VIDEO_SOURCES:
        return _fail(f"Stage-1 options apply to the video sources ({', '.join(sorted(VIDEO_SOURCES))}), "
                     f"not to {args.source!r}")
    if args.calibration_label is not None:
        return _fail("--calibration-label is for one recording (simulate, describe); a build applies "
                     "each clip's own label's maps")
    try:
        from .builders.sources import coerce_options

        options = coerce_options(args.source, _key_values(args.source_option, "--source-option"))
        limits = _key_values(args.limit, "--limit")
        opts = BuildOptions(source=args.source, input_dir=args.input, output_dir=args.output,
                            rate_hz=args.rate, placement=args.placement, device=args.device,
                            seed=args.seed, calibration=args.calibration, cutoff_hz=args.cutoff,
                            augment=args.augment, augment_kinds=tuple(args.augment_kinds.split(",")),
                            num_proc=args.num_proc,
                            chunk_inputs=args.chunk_inputs, source_options=options,
                            stage1=_stage1_options(args), stage1_cache=args.stage1_cache,
                            limits=limits,
                            instructions=args.instructions, teacher=args.teacher,
                            teacher_model=args.teacher_model, teacher_key_env=args.teacher_key_env,
                            engine=args.engine,
                            ray=RayOptions(address=args.ray_address, workers=args.workers,
                                           num_gpus_per_worker=args.num_gpus_per_worker,
                                           max_retries=args.ray_max_retries))
        result = build(opts, repo_id=args.repo_id, progress=not args.quiet,
                       overwrite=args.overwrite, force=args.force)
    except (ValueError, FileNotFoundError, KeyError, TypeError) as err:
        return _fail(str(err))
    if not args.quiet:
        print(format_report(result.report))
    print(f"{result.seconds:.1f} s, {result.clips_per_s:.1f} clips/s, "
          f"{result.input_mb_per_s:.1f} MB/s of input; dataset in {args.output}")
    return 0


def cmd_calibrate(args) -> int:
    from .builders.calibrate import calibrate_from_builds

    try:
        cal, summary = calibrate_from_builds(args.real, args.synthetic, real_config=args.real_config,
                                             synthetic_config=args.synthetic_config,
                                             unpaired=args.unpaired, per_label=args.per_label,
                                             min_label_clips=args.min_label_clips,
                                             pseudo_labels=args.pseudo_labels)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    cal.save(args.output)
    print(summary)
    print(f"wrote {args.output}")
    return 0


def cmd_push(args) -> int:
    from .builders.dataset.hub import push_dataset

    from huggingface_hub import constants, get_token
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if not get_token():
        return _fail("no Hugging Face token: set HF_TOKEN (a write token) or log in with `hf auth login`")
    try:
        url = push_dataset(args.folder, args.repo_id, private=args.private)
    except (ValueError, FileNotFoundError, HfHubHTTPError, OfflineModeIsEnabled) as err:
        return _fail(f"push to {args.repo_id} failed: {str(err).splitlines()[0]}")
    except Exception as err:  # the transport's own errors (httpx ConnectError, timeouts, ...)
        if not _is_network_error(err):
            raise
        return _fail(f"push to {args.repo_id} failed: cannot reach {constants.ENDPOINT} "
                     f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no answer'}); "
                     "check the network or HF_ENDPOINT and push again (nothing was changed locally)")
    print(f"pushed {args.folder} to {url}")
    return 0


def _is_network_error(err: BaseException) -> bool:
    """Whether ``err`` (or its cause) is a connection or timeout error of the HTTP client."""
    while err is not None:
        names = {c.__name__ for c in type(err).__mro__}
        if names & {"ConnectError", "ConnectTimeout", "TimeoutException", "NetworkError",
                    "TransportError", "ConnectionError", "ProtocolError"}:
            return True
        err = err.__cause__ or err.__context__
    return False


def cmd_export_hdf5(args) -> int:
    from .builders.dataset.hdf5 import export_hdf5

    try:
        export_hdf5(args.folder, args.output)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    print(f"wrote {args.output}")
    return 0


def cmd_train(args) -> int:
    from .training.train import run

    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))


def cmd_predict(args) -> int:
    from .training.predict import run

    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))

def cmd_describe(args) -> int:
    from .builders.instructions.describe import describe, format_description, load_recording
    from .builders.sources.folders import folder_label
    from .simulator.imu import SimulationOptions
    from .simulator.motion import MotionError

    try:
        cal = None
        if args.calibration:
            from .simulator.calibration import Calibration

            cal = _label_calibration(Calibration.load(args.calibration), args.calibration_label)
        sim = SimulationOptions(placement=args.placement, rate_hz=args.rate, device=args.device,
                                seed=args.seed, calibration=cal)
        imu, rate = load_recording(args.input, sim)
        label = folder_label(args.label) if args.label else None
        facts, pairs = describe(imu, rate, args.clip_id or Path(args.input).stem, label, seed=args.seed)
    except (MotionError, ValueError, OSError) as err:
        return _fail(str(err))
    print(f"{args.input}: {len(imu)} samples at {rate:g} Hz")
    print(format_description(facts, pairs))
    return 0


def cmd_export_chat(args) -> int:
    from .builders.dataset.chat import export_chat

    try:
        n = export_chat(args.folder, args.config, args.output, splits=args.split or None)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    print(f"wrote {n} pairs to {args.output}")
    return 0


def cmd_demo(args) -> int:
    from .builders.demo import run_demo

    return run_demo(Path(args.output))


LOG_LEVELS = ("debug", "info", "warning", "error")


def _logging_args(p: argparse.ArgumentParser, suppress: bool = False) -> None:
    """-v / -q / --log-level, on the main parser and (``suppress``: no defaults) every command."""
    d = {"default": argparse.SUPPRESS} if suppress else {}
    g = p.add_argument_group("output")
    g.add_argument("-v", "--verbose", action="store_true", help="log progress details (level info)", **d)
    g.add_argument("-q", "--quiet", action="store_true",
                   help="only errors: no progress bar, no warnings, no report (level error)", **d)
    g.add_argument("--log-level", choices=LOG_LEVELS, type=str.lower, **d,
                   help="logging level (default warning); overrides -v / -q")


def _sources_epilog() -> str:
    from .builders.sources import REAL_IMU_SOURCES, SOURCE_INPUTS, SOURCE_PATHS

    lines = ["sources and the folder each expects as --input:"]
    for name in sorted(SOURCE_PATHS):
        kind = "real IMU" if name in REAL_IMU_SOURCES else "skeleton, simulated"
        lines.append(f"  {name:16s} ({kind}) {SOURCE_INPUTS.get(name, 'see the source module docstring')}")
    return "\n".join(lines)


def cmd_reconstruct(args) -> int:
    from .builders.video.cli import run_reconstruct

    return run_reconstruct(args, _fail)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imu2safety", description=__doc__)
    parser.add_argument("--version", action="version", version=f"imu2safety {__version__}")
    _logging_args(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("simulate", help="simulate the wrist IMU of one motion file (.npz, .bvh)")
    p.add_argument("input", type=Path, help="skeleton .npz, rigid-body .npz or .bvh")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .npz or .csv")
    _sim_args(p)
    p.add_argument("--cutoff", type=float, default=None,
                   help="low-pass cutoff of the motion, Hz; 0 disables (default: by input kind, "
                        "15 for optical motion capture (rigid body), 3-4 for Kinect skeletons, "
                        "8 for other skeletons)")
    p.add_argument("--clip-id", help="clip id for the noise stream (default: the file stem)")
    p.add_argument("--twist-model", type=Path,
                   help="forearm-twist model JSON fitted on paired data (simulator/learned_twist.py)")
    p.set_defaults(func=cmd_simulate)

    from .builders.sources import SOURCE_PATHS

    p = sub.add_parser("build", help="build a dataset config from a source folder",
                       description="Build one config (named after the source) of a versioned "
                                   "Parquet dataset from a source folder on disk. Re-running into "
                                   "the same --output resumes an interrupted build when every "
                                   "option and input is unchanged; otherwise it stops and says "
                                   "what differs (--overwrite rebuilds that config).",
                       epilog=_sources_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", choices=sorted(SOURCE_PATHS), metavar="SOURCE",
                   help="source to read; also the config name (one of: "
                        + ", ".join(sorted(SOURCE_PATHS)) + "; the folder each expects is listed below)")
    p.add_argument("--input", type=Path, required=True,
                   help="the source's folder (see the list below)")
    p.add_argument("--output", type=Path, required=True,
                   help="dataset folder (created if absent; may hold other configs)")
    p.add_argument("--overwrite", action="store_true",
                   help="rebuild this config from scratch when the folder holds it with other "
                        "options or inputs (other configs are kept)")
    _sim_args(p)
    p.add_argument("--cutoff", type=float, default=None,
                   help="motion low-pass, Hz (default: the source's recommended value)")
    p.add_argument("--augment", type=int, default=0, metavar="N",
                   help="N extra copies per skeleton clip, each with --augment-kinds (default 0)")
    p.add_argument("--augment-kinds", default="jitter,mirror", metavar="K1,K2",
                   help="comma-separated: jitter (mounting), mirror (every second copy), warp "
                        "(time), scale (amplitude), device (random profile), cutoff (random "
                        "low-pass), roll (turned about the forearm); default jitter,mirror")
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
    p.add_argument("--ray-max-retries", type=int, default=3,
                   help="restarts of a lost Ray read actor / re-runs of a lost simulation task "
                        "before the build fails (default 3)")
    p.add_argument("--chunk-inputs", type=int, default=256,
                   help="input files per committed chunk/shard (keep it when resuming)")
    p.add_argument("--source-option", action="append", metavar="KEY=VALUE",
                   help="source reader option, e.g. protocol=xview for ntu")
    p.add_argument("--repo-id", help="ORG/NAME used in the card's loading example")
    _stage1_args(p)
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
    p.add_argument("--unpaired", action="store_true",
                   help="no shared recordings: fit magnitude and channel quantile maps from the "
                        "two distributions (real train + validation splits only), no rotation")
    from .builders.calibrate import LABEL_KEYS

    p.add_argument("--per-label", choices=LABEL_KEYS,
                   help="with --unpaired: also fit maps per label (the rows' source_label, or "
                        "activity across datasets); a build applies each clip's label's maps")
    p.add_argument("--pseudo-labels", action="store_true",
                   help="with --per-label: predict the real clips' labels (in the synthetic config's "
                        "vocabulary) instead of reading them; no real label is used")
    p.add_argument("--min-label-clips", type=int, metavar="N",
                   help="with --per-label: labels with fewer real clips use the pooled maps "
                        "(default: simulator.calibration.MIN_LABEL_CLIPS)")
    p.add_argument("-o", "--output", type=Path, required=True, help="calibration JSON")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("push", help="push a dataset folder to the Hugging Face Hub (HF_TOKEN)")
    p.add_argument("folder", type=Path, help="dataset folder written by `imu2safety build`")
    p.add_argument("--repo-id", required=True, help="ORG/NAME")
    p.add_argument("--private", action="store_true")
    p.set_defaults(func=cmd_push)

    p = sub.add_parser("export-hdf5", help="export a dataset folder to one HDF5 file")
    p.add_argument("folder", type=Path, help="dataset folder written by `imu2safety build`")
    p.add_argument("output", type=Path, help="HDF5 file to write (e.g. my-dataset.h5)")
    p.set_defaults(func=cmd_export_hdf5)

    from .training.predict import add_predict_args
    from .training.train import add_train_args

    p = sub.add_parser("train", help="train the IMU language model (LoRA; accelerate launch for multi-GPU)")
    add_train_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("predict", help="predict hazard/safe/text with a trained model")
    add_predict_args(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("describe", help="print the signal facts and instruction pairs of one recording")
    p.add_argument("input", type=Path, help="IMU .npz/.csv, or a motion .npz/.bvh (simulated first)")
    p.add_argument("--label", help="hazard or activity name (adds the causal and classification pairs)")
    p.add_argument("--clip-id", help="clip id (default: the file stem)")
    _sim_args(p)
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser("export-chat", help="export a config's instruction pairs as chat JSONL")
    p.add_argument("folder", type=Path, help="dataset folder")
    p.add_argument("config", help="config name")
    p.add_argument("-o", "--output", type=Path, required=True, help="output .jsonl")
    p.add_argument("--split", action="append", choices=["train", "validation", "test"],
                   help="only these splits (repeatable; default all)")
    p.set_defaults(func=cmd_export_chat)

    from .builders.video.cli import add_reconstruct_parser

    add_reconstruct_parser(sub, cmd_reconstruct)

    p = sub.add_parser("demo", help="build, load and describe a dataset from the shipped sample")
    p.add_argument("-o", "--output", default="imu2safety-demo", help="output folder")
    p.set_defaults(func=cmd_demo)

    from .evaluation.commands import add_commands

    add_commands(sub)

    for command in sub.choices.values():  # every command takes -v / -q / --log-level too
        try:
            _logging_args(command, suppress=True)
        except argparse.ArgumentError:  # a command that defines its own
            pass
    return parser


def _level(args) -> int:
    if getattr(args, "log_level", None):
        return getattr(logging, args.log_level.upper())
    if getattr(args, "quiet", False):
        return logging.ERROR
    return logging.INFO if getattr(args, "verbose", False) else logging.WARNING


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    level = _level(args)
    args.quiet = level >= logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("imu2safety").setLevel(level)
    warnings.showwarning = _show_warning
    with warnings.catch_warnings():
        if args.quiet:
            warnings.simplefilter("ignore")
        try:
            return args.func(args)
        except Exception as err:
            from .builders.dataset.layout import VersionError

            if isinstance(err, VersionError):
                return _fail(f"{err}{_VERSION_FIX.get(args.command, '')}")
            raise


#: What to do when a command meets a dataset folder of another format version.
_VERSION_FIX = {
    "build": "; or build into a new --output folder",
    "export-hdf5": "; or export a folder built by this imu2safety",
}


if __name__ == "__main__":
    sys.exit(main())
