"""``imu2safety benchmark list|prepare|run|train-baseline`` and ``imu2safety evaluate``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _fail(message: str) -> int:
    print(f"imu2safety: error: {message}", file=sys.stderr)
    return 2


def cmd_list(args) -> int:
    from .tasks import PROTOCOL_VERSION, TASKS

    print(f"benchmark protocol {PROTOCOL_VERSION}")
    for task in TASKS.values():
        print(f"{task.name:18s} {task.kind:8s} {len(task.labels):2d} labels, source {task.source}, "
              f"{task.sample_rate_hz:g} Hz, {task.window_s:g} s windows")
        if args.verbose_tasks:
            print(f"    {task.description}")
    return 0


def cmd_prepare(args) -> int:
    from .prepare import prepare

    try:
        res = prepare(args.task, args.input, args.output,
                      test_subjects=args.test_subjects.split(",") if args.test_subjects else None)
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    for split, n in res.windows.items():
        print(f"{split}: {n} windows of {len(res.subjects[split])} subject(s) "
              f"({', '.join(res.subjects[split])})")
    if res.skipped:
        print(f"{len(res.skipped)} input(s)/trial(s) skipped; first: {res.skipped[0][0]}: "
              f"{res.skipped[0][1]}")
    print(f"benchmark folder {args.output}")
    return 0


def cmd_evaluate(args) -> int:
    from .scoring import SubmissionError, evaluate_file, format_markdown

    try:
        result = evaluate_file(args.bench_dir, args.predictions)
    except (SubmissionError, ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    print(format_markdown(result))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.output}")
    return 0


def cmd_train_baseline(args) -> int:
    from .baselines import train_baseline

    try:
        summary = train_baseline(args.task, args.model, args.data, args.config, args.output,
                                 benchmark=args.benchmark, seed=args.seed,
                                 exclude_subjects=args.exclude_subjects.split(",")
                                 if args.exclude_subjects else ())
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    print(summary)
    return 0


def cmd_run(args) -> int:
    from .run import run

    try:
        run(tasks=args.tasks, data=args.data, submissions=args.submission or [],
            output=args.output, workdir=args.workdir, argv=sys.argv[1:])
    except (ValueError, FileNotFoundError) as err:
        return _fail(str(err))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``benchmark`` (with its sub-commands) and ``evaluate`` on the main parser."""
    from .tasks import TASKS

    bench = sub.add_parser("benchmark", help="benchmark tasks on real wrist IMU: list, prepare, "
                                             "run, train-baseline")
    bsub = bench.add_subparsers(dest="benchmark_command", required=True)

    p = bsub.add_parser("list", help="name the tasks")
    p.add_argument("--describe", dest="verbose_tasks", action="store_true",
                   help="print each task's windowing and labelling rule")
    p.set_defaults(func=cmd_list)

    p = bsub.add_parser("prepare", help="cut a task's real windows into a benchmark folder")
    p.add_argument("task", choices=sorted(TASKS), help="benchmark task (see `benchmark list`)")
    p.add_argument("--input", type=Path, required=True, help="the source's folder on disk")
    p.add_argument("--output", type=Path, required=True, help="benchmark folder to write")
    p.add_argument("--test-subjects", help="comma-separated subjects to test on (default: the "
                                           "source's test split)")
    p.set_defaults(func=cmd_prepare)

    p = bsub.add_parser("train-baseline", help="train a shipped baseline on a built dataset")
    p.add_argument("task", choices=sorted(TASKS), help="benchmark task (see `benchmark list`)")
    p.add_argument("--model", choices=("gbm", "cnn"), default="gbm")
    p.add_argument("--data", type=Path, required=True, help="built dataset folder")
    p.add_argument("--config", help="config in --data (default: its first config)")
    p.add_argument("--exclude-subjects", help="comma-separated subjects left out of training")
    p.add_argument("--benchmark", type=Path, help="benchmark folder: also write predictions.jsonl "
                                                  "for its test windows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    p.set_defaults(func=cmd_train_baseline)

    p = bsub.add_parser("run", help="train the baselines on every task, write benchmarks/results.md")
    p.add_argument("--tasks", nargs="+", choices=sorted(TASKS), help="default: all")
    p.add_argument("--data", type=Path, help="real data root (default ../shared/data)")
    p.add_argument("--submission", type=Path, action="append",
                   help="submission folder (submission.json + <task>.jsonl); repeatable")
    p.add_argument("--output", type=Path, default=Path("benchmarks/results.md"))
    p.add_argument("--workdir", type=Path, help="cache of builds and benchmark folders "
                                                "(default: a folder under the system temp dir)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("evaluate", help="score a submission JSONL against a benchmark folder")
    p.add_argument("bench_dir", type=Path, help="benchmark folder written by `benchmark prepare`")
    p.add_argument("--predictions", type=Path, required=True, help="one JSON line per window: "
                                                                   "id, label, optional score")
    p.add_argument("-o", "--output", type=Path, help="result JSON")
    p.set_defaults(func=cmd_evaluate)
