"""The training loop (accelerate): ``accelerate launch -m imu2safety.training.train --config C.yaml``.

The same runs as ``imu2safety train --config C.yaml [overrides]`` (one process), and under
accelerate's launchers on several GPUs or nodes (``accelerate config`` / ``--config_file`` with
DeepSpeed or FSDP pass through: this module only uses the ``Accelerator`` API). Every field of
``TrainConfig`` can be set in the YAML file; the command-line overrides win.

Stages: ``stage: align`` trains encoder + projector (+ markers) with the LLM frozen, ``stage: lora``
adds LoRA; ``init_from: FOLDER`` starts from a saved model (e.g. the alignment result).
``objective: classify`` trains the hazard/activity heads with class weights (inverse frequency).

Exact resume: the data order is a function of (seed, epoch), the optimizer, scheduler and RNG
states are saved with every checkpoint, so ``resume_from`` continues exactly as an uninterrupted
run would (on the same hardware and process count).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from . import checkpoints as ck
from .data import PairDataset, channel_stats, load_clips
from .encoder import EncoderConfig
from .evaluate import evaluate, format_table, make_collator
from .model import MODULES_NAME, IMULanguageModel, IMULMConfig

logger = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training options (YAML keys = field names).

    model: base causal LM (folder or Hub id). dataset: imu2safety dataset folder or Hub id;
    dataset_config: its config (None: the default). output: output folder (layout in checkpoints).
    objective: generate | classify. stage: align (LLM frozen) | lora.
    batch_size: per device; grad_accum: micro-batches per optimizer step; max_steps: optimizer steps.
    mixed_precision: no | bf16 | fp16 (accelerate); dtype: the frozen LLM's dtype (None: bfloat16
    with bf16, else float32).
    log_every / eval_every / save_every: in optimizer steps (eval_every 0: at each save).
    resume_from: a checkpoint folder, or an output folder (its ``checkpoints/last``).
    shuffle_imu: the control run (each clip gets another clip's IMU, re-drawn every epoch).
    pair_kinds: train on the rows' instruction pairs of these kinds only (description, causal,
    comparative, classification; None: all; []: only the label pair every clip gets).
    push_to_hub: Hub model repo: each checkpoint to ``checkpoints/<step>/``, the final model to the
    root with the model card, tagged.
    """

    model: str = ""
    dataset: str = ""
    dataset_config: str | None = None
    output: str = "imu2safety-model"
    train_split: str = "train"
    eval_split: str | None = "validation"
    objective: str = "generate"
    stage: str = "lora"
    init_from: str | None = None
    max_steps: int = 1000
    batch_size: int = 8
    grad_accum: int = 1
    learning_rate: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    seed: int = 0
    mixed_precision: str = "no"
    dtype: str | None = None
    log_every: int = 10
    eval_every: int = 0
    save_every: int = 500
    keep_last: int | None = None
    eval_batch_size: int = 8
    max_length: int = 1024
    max_duration_s: float = 30.0
    max_new_tokens: int = 48
    shuffle_imu: bool = False
    pair_kinds: list[str] | None = None
    resume_from: str | None = None
    push_to_hub: str | None = None
    hub_private: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    lora_target_modules: list[str] | str = "all-linear"
    channel_markers: bool = False
    encoder: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.stage not in ("align", "lora"):
            raise ValueError(f"stage must be 'align' or 'lora', got {self.stage!r}")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be no, bf16 or fp16, got {self.mixed_precision!r}")
        for k in ("max_steps", "batch_size", "grad_accum", "log_every", "save_every"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1, got {getattr(self, k)}")

    @classmethod
    def from_yaml(cls, path: str | Path | None, **overrides) -> "TrainConfig":
        """Config file (optional) + overrides (None values ignored); unknown keys are an error."""
        import yaml

        data = {}
        if path:
            data = yaml.safe_load(Path(path).read_text()) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{path}: a training config is a YAML mapping")
        data.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        cfg = cls(**data)
        if not cfg.model or not cfg.dataset:
            raise ValueError("give the base model and the dataset (--model, --dataset or the config file)")
        return cfg


class EpochSampler(torch.utils.data.Sampler):
    """A permutation of range(n) drawn from (seed, epoch) alone: the data order survives a resume."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


def _class_weights(values: list[int], n: int) -> torch.Tensor:
    """Inverse-frequency weights (mean 1 over the classes present; absent classes get 0)."""
    counts = torch.bincount(torch.tensor(values), minlength=n).float()
    w = torch.where(counts > 0, counts.sum() / (counts * (counts > 0).sum()), torch.zeros(()))
    return w


def _build_model(cfg: TrainConfig, clips) -> IMULanguageModel:
    mean, std = channel_stats(clips)
    enc = EncoderConfig(**{**cfg.encoder, "norm_mean": mean, "norm_std": std})
    dtype = cfg.dtype or ("bfloat16" if cfg.mixed_precision == "bf16" else "float32")
    config = IMULMConfig(base_model=cfg.model, encoder=enc, objective=cfg.objective, lora=cfg.stage == "lora",
                         lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                         lora_target_modules=cfg.lora_target_modules, channel_markers=cfg.channel_markers,
                         activities=sorted({c.activity for c in clips}), dtype=dtype)
    if cfg.init_from:  # start from a saved model's encoder/projector/markers (and its statistics)
        from safetensors.torch import load_file

        saved = IMULMConfig.from_dict(json.loads((Path(cfg.init_from) / "imu_lm_config.json").read_text()))
        config.encoder, config.channel_markers = saved.encoder, saved.channel_markers
        model = IMULanguageModel.create(config)
        state = {k: v for k, v in load_file(Path(cfg.init_from) / MODULES_NAME).items()
                 if not k.startswith(("hazard_head", "activity_head"))}
        model.load_state_dict(state, strict=False)
        return model
    return IMULanguageModel.create(config)


def _log(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def train(cfg: TrainConfig, progress: bool = True, stop_after: int | None = None) -> dict:
    """Run training; returns a summary dict (steps, final loss, best eval, output paths).

    stop_after: stop after this many optimizer steps without finishing (simulates an interruption;
    the tests resume from the checkpoint it leaves).
    """
    import yaml
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import get_cosine_schedule_with_warmup

    acc = Accelerator(gradient_accumulation_steps=cfg.grad_accum, mixed_precision=cfg.mixed_precision)
    set_seed(cfg.seed)
    out = Path(cfg.output)
    resume = ck.resolve_checkpoint(cfg.resume_from) if cfg.resume_from else None
    enc_rate = EncoderConfig(**cfg.encoder).sample_rate_hz
    if resume:
        model = IMULanguageModel.from_pretrained(resume / ck.PRETRAINED_DIR, trainable=True)
        enc_rate = model.config.encoder.sample_rate_hz
    clips, skipped = load_clips(cfg.dataset, cfg.dataset_config, cfg.train_split, enc_rate, cfg.max_duration_s,
                                pair_kinds=cfg.pair_kinds)
    if not clips:
        raise ValueError(f"no usable clips in split {cfg.train_split!r} of {cfg.dataset}")
    eval_clips = []
    if cfg.eval_split:
        eval_clips, _ = load_clips(cfg.dataset, cfg.dataset_config, cfg.eval_split, enc_rate, cfg.max_duration_s)
    if not resume:
        model = _build_model(cfg, clips)
    model.train()
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        (out / ck.CONFIG_NAME).write_text(yaml.safe_dump(asdict(cfg), sort_keys=False))
    mcfg = model.config
    data = PairDataset(clips, mcfg.objective, mcfg.activities, shuffle_imu=cfg.shuffle_imu, seed=cfg.seed)
    sampler = EpochSampler(len(data), cfg.seed)
    loader = torch.utils.data.DataLoader(data, batch_size=cfg.batch_size, sampler=sampler,
                                         collate_fn=make_collator(model, with_response=mcfg.objective == "generate",
                                                                  max_length=cfg.max_length),
                                         generator=torch.Generator().manual_seed(cfg.seed))
    params = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in params)
    n_total = sum(p.numel() for p in model.parameters())
    logger.info("trainable parameters: %d of %d (%.3f%%)", n_trainable, n_total, 100 * n_trainable / n_total)
    optimizer = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps, cfg.max_steps)
    weights = {}
    if mcfg.objective == "classify":
        weights = {"hazard_weight": _class_weights([data[i]["hazard"] for i in range(len(data))], len(mcfg.hazards)),
                   "activity_weight": _class_weights([data[i]["activity"] for i in range(len(data))],
                                                     len(mcfg.activities))}
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    weights = {k: v.to(acc.device) for k, v in weights.items()}
    state = {"best_macro_f1": None, "best_step": None}
    step = 0
    if resume:
        state = ck.load_training_state(resume, optimizer, scheduler)
        step = state["step"]
        logger.info("resumed from %s at step %d", resume, step)
    per_epoch = len(loader)
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not (progress and acc.is_local_main_process),
               desc="train")
    eval_every = cfg.eval_every or cfg.save_every
    losses, t0, samples, last_loss = [], time.perf_counter(), 0, math.nan
    unwrapped = acc.unwrap_model(model)
    while step < cfg.max_steps and (stop_after is None or step < stop_after):
        consumed = step * cfg.grad_accum
        epoch, skip = divmod(consumed, per_epoch)
        epoch_loader = acc.skip_first_batches(loader, skip) if skip else loader
        epoch_loader.set_epoch(epoch)
        for batch in epoch_loader:
            with acc.accumulate(model):
                res = model(**batch, **weights)
                acc.backward(res["loss"])
                if acc.sync_gradients and cfg.max_grad_norm:
                    acc.clip_grad_norm_(params, cfg.max_grad_norm)
                optimizer.step()
                if acc.sync_gradients:
                    scheduler.step()
                optimizer.zero_grad()
            losses.append(res["loss"].detach().float())
            samples += len(batch["ids"])
            if not acc.sync_gradients:
                continue
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == cfg.max_steps:
                last_loss = acc.gather(torch.stack(losses).mean()[None]).mean().item()
                dt = time.perf_counter() - t0
                row = {"step": step, "loss": last_loss, "lr": scheduler.get_last_lr()[0], "epoch": epoch,
                       "samples_per_s": samples * acc.num_processes / dt}
                if acc.is_main_process:
                    _log(out / ck.LOG_NAME, row)
                bar.set_postfix(loss=f"{last_loss:.4f}")
                losses, t0, samples = [], time.perf_counter(), 0
            if eval_clips and (step % eval_every == 0 or step == cfg.max_steps) and acc.is_main_process:
                m = evaluate(unwrapped, eval_clips, cfg.eval_batch_size, max_new_tokens=cfg.max_new_tokens)
                model.train()
                _log(out / ck.LOG_NAME, {"step": step, "eval_macro_f1": m["macro_f1"],
                                         "eval_unsafe_recall": m["unsafe_recall"], "eval_per_class": m["per_class"]})
                logger.info("step %d eval: macro-F1 %.3f, unsafe recall %.3f\n%s", step, m["macro_f1"],
                            m["unsafe_recall"], format_table(m["per_class"]))
                if state["best_macro_f1"] is None or m["macro_f1"] > state["best_macro_f1"]:
                    state.update(best_macro_f1=m["macro_f1"], best_step=step, best_metrics=m)
            if (step % cfg.save_every == 0 or step == cfg.max_steps) and acc.is_main_process:
                ck.save_checkpoint(out, step, unwrapped, optimizer, scheduler, state)
                if state["best_step"] == step:
                    ck.set_link(out, ck.BEST, step)
                ck.prune(out, cfg.keep_last)
                if cfg.push_to_hub:
                    from .hub import push_checkpoint

                    push_checkpoint(out / ck.CHECKPOINTS_DIR / ck.step_name(step), cfg.push_to_hub, step,
                                    private=cfg.hub_private)
            if step >= cfg.max_steps or (stop_after is not None and step >= stop_after):
                break
    bar.close()
    acc.wait_for_everyone()
    summary = {"step": step, "loss": last_loss, "best_macro_f1": state.get("best_macro_f1"),
               "best_step": state.get("best_step"), "skipped": skipped, "output": str(out)}
    if step >= cfg.max_steps and acc.is_main_process:
        final = unwrapped.save_pretrained(out / ck.FINAL_DIR)
        from .hub import write_model_card

        write_model_card(final, cfg, state, train_clips=len(clips))
        summary["final"] = str(final)
        if cfg.push_to_hub:
            from .hub import push_final

            summary["url"] = push_final(final, cfg.push_to_hub, private=cfg.hub_private)
    return summary


def add_train_args(p: argparse.ArgumentParser) -> None:
    """The command-line options of ``train`` (shared by ``imu2safety train``)."""
    p.add_argument("--config", type=Path, help="training config YAML (optional when the options below are given)")
    p.add_argument("--model", help="base causal LM: folder or Hub id")
    p.add_argument("--dataset", help="imu2safety dataset: folder or Hub id")
    p.add_argument("--dataset-config", dest="dataset_config", help="dataset config name")
    p.add_argument("--output", help="output folder")
    p.add_argument("--max-steps", dest="max_steps", type=int)
    p.add_argument("--batch-size", dest="batch_size", type=int)
    p.add_argument("--learning-rate", dest="learning_rate", type=float)
    p.add_argument("--objective", choices=("generate", "classify"))
    p.add_argument("--stage", choices=("align", "lora"))
    p.add_argument("--resume-from", dest="resume_from", help="checkpoint folder or output folder (its last)")
    p.add_argument("--push-to-hub", dest="push_to_hub", metavar="REPO", help="Hub model repo (HF_TOKEN)")
    p.add_argument("--seed", type=int)
    p.add_argument("--mixed-precision", dest="mixed_precision", choices=("no", "bf16", "fp16"))
    p.add_argument("--shuffle-imu", dest="shuffle_imu", action="store_const", const=True,
                   help="control run: each clip gets another clip's IMU")


def run(args: argparse.Namespace) -> int:
    """Run from parsed ``add_train_args`` options; prints the summary. Returns the exit status."""
    keys = ("model", "dataset", "dataset_config", "output", "max_steps", "batch_size", "learning_rate",
            "objective", "stage", "resume_from", "push_to_hub", "seed", "mixed_precision", "shuffle_imu")
    cfg = TrainConfig.from_yaml(args.config, **{k: getattr(args, k) for k in keys})
    summary = train(cfg)
    print(f"trained {summary['step']} steps, last logged loss {summary['loss']:.4f}; best eval macro-F1 "
          f"{summary['best_macro_f1']} at step {summary['best_step']}; output in {summary['output']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="imu2safety.training.train", description=__doc__.splitlines()[0])
    add_train_args(parser)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
