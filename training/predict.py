"""``imu2safety predict``: run a trained model on a dataset split, one recording or a benchmark folder.

Output: JSON lines, one per clip: ``id``, ``hazard``, ``safe``, ``activity``, ``score`` (probability
of unsafe from the classification head; null in generation mode) and ``text`` (the generated
answer; "" in classification mode). With ``--benchmark`` each line also has ``label``, the
prediction mapped onto the task's labels (``Task.label_from_prediction``), which is what
``imu2safety evaluate`` scores; ``score`` is then the probability of the task's positive class
for binary tasks (fall: p(falling) + p(fainting)) and is left out otherwise (the scorer wants it
on all lines or none).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .data import Clip, clips_from_rows, prepare_imu


def clip_from_file(path: str | Path, model, max_duration_s: float = 30.0) -> Clip:
    """An IMU recording written by ``imu2safety simulate`` (``.npz`` or ``.csv``) -> ``Clip``."""
    from ..simulator.readers import read_imu

    accel, gyro, _, rate = read_imu(path)
    imu = np.concatenate([accel, gyro], axis=1)
    x = prepare_imu(imu, float(rate), model.config.encoder.sample_rate_hz, max_duration_s)
    return Clip(Path(path).stem, x, "none", "")


def predict_file(model, path: str | Path, max_duration_s: float = 30.0) -> dict:
    """The prediction dict of one recording (see the module docstring)."""
    from .evaluate import predict_clips

    return predict_clips(model, [clip_from_file(path, model, max_duration_s)])[0]


def benchmark_clips(bench_dir: str | Path, model, split: str = "test", max_duration_s: float = 30.0):
    """(clips, task) from a benchmark folder (``evaluation.tasks.load_windows``)."""
    from ..evaluation.tasks import load_windows

    w = load_windows(bench_dir, split=split)
    rate = model.config.encoder.sample_rate_hz
    clips = [Clip(str(i), prepare_imu(x, w.sample_rate_hz, rate, max_duration_s), "none", "")
             for i, x in zip(w.ids.tolist(), w.imu)]
    return clips, w.task


def to_task(pred: dict, task, p_hazard: dict | None = None) -> dict:
    """Add the task's ``label`` (and the binary ``score``) to a prediction line."""
    from ..evaluation.tasks import FALL_HAZARDS

    line = {**pred, "label": task.label_from_prediction(pred["hazard"], pred["safe"], pred["activity"] or "")}
    line.pop("score", None)
    if task.kind == "fall" and p_hazard is not None:
        line["score"] = min(1.0, max(0.0, sum(p_hazard.get(h, 0.0) for h in FALL_HAZARDS)))
    return line


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def run(args) -> int:
    """The ``predict`` command (options from ``add_predict_args``); returns the exit status."""
    from .evaluate import predict_clips
    from .model import IMULanguageModel

    model = IMULanguageModel.from_pretrained(args.model, base_model=args.base_model)
    task = None
    if args.input:
        clips = [clip_from_file(args.input, model, args.max_duration_s)]
    elif args.benchmark:
        clips, task = benchmark_clips(args.benchmark, model, args.split, args.max_duration_s)
    else:
        from ..builders.dataset.load import load

        ds = load(args.dataset, args.config, split=args.split)
        clips, skipped = clips_from_rows(ds, model.config.encoder.sample_rate_hz, args.max_duration_s)
        for rid, why in skipped:
            print(f"imu2safety: warning: skipped clip {rid}: {why}")
    rows = predict_clips(model, clips, args.batch_size, max_new_tokens=args.max_new_tokens,
                         with_probs=task is not None)
    if task is not None:
        rows = [to_task(r, task, r.pop("p_hazard", None)) for r in rows]
    write_jsonl(rows, args.output)
    print(f"wrote {len(rows)} predictions to {args.output}")
    return 0


def add_predict_args(p) -> None:
    p.add_argument("model", help="model folder (e.g. OUTPUT/final) or Hub model repo id")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="imu2safety dataset folder or Hub id")
    src.add_argument("--input", type=Path, help="one recording: .npz or .csv (imu2safety simulate format)")
    src.add_argument("--benchmark", type=Path, help="benchmark folder (imu2safety benchmark prepare)")
    p.add_argument("--config", help="dataset config (with --dataset)")
    p.add_argument("--split", default="test", help="split (default test)")
    p.add_argument("-o", "--output", type=Path, required=True, help="predictions JSONL")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-new-tokens", type=int, default=48, help="generation mode: answer length")
    p.add_argument("--max-duration-s", type=float, default=30.0, help="centre-crop longer clips (s)")
    p.add_argument("--base-model", help="load the base LLM from here instead of the saved name")
