"""Training output layout, checkpoint save/resume (lerobot's ``checkpoints/<step>/`` + ``last`` link).

```
OUTPUT/
  train_config.yaml            the resolved training config
  log.jsonl                    one JSON per logging step (step, loss, lr, ...) and per evaluation
  checkpoints/
    000500/
      pretrained_model/        a model folder (IMULanguageModel.save_pretrained): imu_lm_config.json,
                               imu_modules.safetensors, adapter/ (LoRA), tokenizer files
      training_state/          optimizer.pt, scheduler.pt, rng.pt (tensors only, read with
                               torch.load(weights_only=True)), state.json (step, best metric, ...)
    last -> 000500             the newest checkpoint (relative symlink)
    best -> 000500             the checkpoint with the best eval macro-F1 (never pruned)
  final/                       the final model folder (+ README.md, the model card)
```
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

CHECKPOINTS_DIR = "checkpoints"
PRETRAINED_DIR = "pretrained_model"
STATE_DIR = "training_state"
FINAL_DIR = "final"
LOG_NAME = "log.jsonl"
CONFIG_NAME = "train_config.yaml"
LAST, BEST = "last", "best"


def step_name(step: int) -> str:
    return f"{step:06d}"


def set_link(output: Path, name: str, step: int) -> None:
    """Point ``OUTPUT/checkpoints/<name>`` at ``<step>`` (relative symlink, replaced atomically)."""
    link = Path(output) / CHECKPOINTS_DIR / name
    tmp = link.with_name(name + ".tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(step_name(step))
    os.replace(tmp, link)


def save_checkpoint(output: Path, step: int, model, optimizer, scheduler, state: dict) -> Path:
    """Write checkpoint ``step`` (model folder + training state) and move the ``last`` link to it.

    The folder is written under a temporary name and renamed, so a crash never leaves a half
    checkpoint behind ``last``.
    """
    root = Path(output) / CHECKPOINTS_DIR
    final = root / step_name(step)
    tmp = root / (step_name(step) + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp / PRETRAINED_DIR)
    sdir = tmp / STATE_DIR
    sdir.mkdir(parents=True)
    torch.save(optimizer.state_dict(), sdir / "optimizer.pt")
    torch.save(scheduler.state_dict(), sdir / "scheduler.pt")
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    torch.save(rng, sdir / "rng.pt")
    (sdir / "state.json").write_text(json.dumps({**state, "step": step}, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    set_link(output, LAST, step)
    return final


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from: a checkpoint folder, ``OUTPUT/checkpoints`` or ``OUTPUT`` (its ``last``)."""
    path = Path(path)
    for cand in (path, path / LAST, path / CHECKPOINTS_DIR / LAST):
        if (cand / STATE_DIR / "state.json").is_file():
            return cand.resolve()
    raise FileNotFoundError(f"{path} holds no checkpoint (expected {CHECKPOINTS_DIR}/<step>/{STATE_DIR}/ "
                            f"or a {CHECKPOINTS_DIR}/{LAST} link)")


def load_training_state(checkpoint: Path, optimizer, scheduler) -> dict:
    """Restore optimizer, scheduler and RNG states from ``checkpoint``; returns its state.json."""
    sdir = Path(checkpoint) / STATE_DIR
    optimizer.load_state_dict(torch.load(sdir / "optimizer.pt", weights_only=True, map_location="cpu"))
    scheduler.load_state_dict(torch.load(sdir / "scheduler.pt", weights_only=True))
    rng = torch.load(sdir / "rng.pt", weights_only=True)
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(rng["cuda"]))
    return json.loads((sdir / "state.json").read_text())


def prune(output: Path, keep_last: int | None) -> None:
    """Delete all but the newest ``keep_last`` checkpoints (the ``best`` one is always kept)."""
    if not keep_last:
        return
    root = Path(output) / CHECKPOINTS_DIR
    steps = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and p.name.isdigit())
    best = (root / BEST).resolve() if (root / BEST).is_symlink() else None
    for p in steps[:-keep_last]:
        if p.resolve() != best:
            shutil.rmtree(p)
