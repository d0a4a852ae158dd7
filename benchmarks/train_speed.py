"""Training throughput of the IMU language model: tokens/s, samples/s, peak memory, MFU.

Work: batches of mixed-length wrist-IMU clips (uniform 2-12 s at 50 Hz, random values; the
encoder's cost does not depend on them) with the label pair as the text, through the real
collator, ``IMULanguageModel`` (encoder + projector + LoRA LLM) and an AdamW step of the trainable
parameters. Weights are random: sizes, not quality, matter here.

Baseline, in the same process on the same batches: the same LoRA LLM alone on the same token
sequences (the IMU placeholders as ordinary tokens, no encoder), so the ratio ours / baseline is
the cost of the IMU path. Timings on a shared machine are noisy; compare ratios.

Sizes: ``tiny`` (the tests' tiny Llama, CPU), ``1b`` (Llama-3.2-1B shape) and ``8b`` (Llama-3.1-8B
shape), random weights, LoRA r=16 on all linear layers. On a GPU use ``--device cuda --dtype
bfloat16`` (frozen LLM in bf16, trainable parts in fp32 under bf16 autocast). MFU counts model
FLOPs per token as 4 N (forward 2 N + backward to the activations 2 N: the base weights are
frozen, so their weight gradients are never computed) + 6 N_lora-trainable + attention
(12 * layers * hidden * seq per token, forward and backward), against ``--peak-tflops`` (default
989, the H100/H200 SXM dense bf16 peak).

    python benchmarks/train_speed.py [--size tiny] [--device cpu] [--steps 10] [--batch-size 8]
    python benchmarks/train_speed.py --size 8b --device cuda --dtype bfloat16 --batch-size 8
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from imu2safety.training.data import LABEL_INSTRUCTION, label_response
from imu2safety.training.encoder import EncoderConfig
from imu2safety.training.evaluate import make_collator
from imu2safety.training.model import IMULanguageModel, IMULMConfig
from imu2safety.training.tiny import make_tiny_base

SIZES = {  # LlamaConfig fields
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=4),
    "1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256, tie_word_embeddings=True),
    "8b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
               num_key_value_heads=8, vocab_size=128256),
}
HAZARDS = ("none", "falling", "fighting", "losing_balance")


def make_model(size: str, device: str, dtype: str, lora_r: int, folder: Path) -> IMULanguageModel:
    """Random-weight model of ``size`` (tokenizer trained in-process; nothing downloaded)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    base = make_tiny_base(folder / "tiny", hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128)
    tok = AutoTokenizer.from_pretrained(base)
    cfg = LlamaConfig(**{**dict(vocab_size=len(tok), max_position_embeddings=8192), **SIZES[size]})
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
    with torch.device(device):
        llm = LlamaForCausalLM(cfg).to(torch_dtype)
    config = IMULMConfig(base_model=f"random-llama-{size}", encoder=EncoderConfig(), lora_r=lora_r,
                         lora_alpha=2 * lora_r, dtype=dtype)
    model = IMULanguageModel.create(config, tokenizer=tok, llm=llm)
    return model.to(device)


def make_batches(model, n_batches: int, batch_size: int, seed: int, min_s: float, max_s: float) -> list[dict]:
    rng = np.random.default_rng(seed)
    collate = make_collator(model, max_length=8192)
    rate = model.config.encoder.sample_rate_hz
    out = []
    for b in range(n_batches):
        items = []
        for k in range(batch_size):
            n = int(rng.uniform(min_s, max_s) * rate)
            h = HAZARDS[(b + k) % len(HAZARDS)]
            items.append({"id": f"{b}-{k}", "imu": rng.normal(size=(n, 6)).astype(np.float32),
                          "instruction": LABEL_INSTRUCTION, "response": label_response("walking", h)})
        out.append(collate(items))
    return out


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def run_steps(step, batches: list[dict], warmup: int, device: str) -> tuple[float, int, int]:
    """(seconds, tokens, samples) over the timed batches (after ``warmup`` untimed ones)."""
    for b in batches[:warmup]:
        step(b)
    _sync(device)
    t0 = time.perf_counter()
    tokens = samples = 0
    for b in batches[warmup:]:
        step(b)
        tokens += int(b["attention_mask"].sum())
        samples += len(b["ids"])
    _sync(device)
    return time.perf_counter() - t0, tokens, samples


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), default="tiny")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    p.add_argument("--steps", type=int, default=10, help="timed steps (after --warmup)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--min-s", type=float, default=2.0, help="shortest clip, s")
    p.add_argument("--max-s", type=float, default=12.0, help="longest clip, s")
    p.add_argument("--peak-tflops", type=float, default=989.0, help="accelerator peak (MFU denominator)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.manual_seed(args.seed)
    device = args.device
    amp = (torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)
           if args.dtype == "bfloat16" else contextlib.nullcontext())
    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(args.size, device, args.dtype, args.lora_r, Path(tmp))
    model.train()
    batches = make_batches(model, args.warmup + args.steps, args.batch_size, args.seed, args.min_s, args.max_s)
    batches = [{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in b.items()} for b in batches]
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    patch_id = model.patch_id
    filler = model.tokenizer.eos_token_id

    def ours(b):
        with amp:
            loss = model(**b)["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def baseline(b):  # the LoRA LLM alone on the same token sequences
        ids = b["input_ids"].clone()
        ids[ids >= model.llm.get_input_embeddings().num_embeddings] = filler
        ids[ids == patch_id] = filler
        with amp:
            logits = model.llm(input_ids=ids, attention_mask=b["attention_mask"]).logits
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(),
                                                     b["labels"][:, 1:].flatten(), ignore_index=-100)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    results = {}
    for name, fn in (("baseline (LoRA LLM alone)", baseline), ("IMU language model", ours)):
        sec, tokens, samples = run_steps(fn, batches, args.warmup, device)
        results[name] = {"seconds": sec, "tokens_per_s": tokens / sec, "samples_per_s": samples / sec,
                         "tokens": tokens}
    n_base = sum(q.numel() for n, q in model.llm.named_parameters() if "lora_" not in n)
    n_train = sum(q.numel() for q in params)
    cfg = model.llm.get_base_model().config
    seq = float(np.mean([int(b["attention_mask"].sum(1).float().mean()) for b in batches]))
    flops_per_token = 4 * n_base + 6 * n_train + 12 * cfg.num_hidden_layers * cfg.hidden_size * seq
    ours_r = results["IMU language model"]
    ours_r["mfu"] = flops_per_token * ours_r["tokens_per_s"] / (args.peak_tflops * 1e12)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"size {args.size}, device {device}, dtype {args.dtype}, batch {args.batch_size}, clips "
          f"{args.min_s:g}-{args.max_s:g} s, mean sequence {seq:.0f} tokens, LLM {n_base / 1e6:.1f} M params, "
          f"trainable {n_train / 1e6:.2f} M, {args.steps} timed steps")
    for name, r in results.items():
        print(f"  {name:28s} {r['tokens_per_s']:10.0f} tokens/s {r['samples_per_s']:8.2f} samples/s")
    ratio = results["baseline (LoRA LLM alone)"]["tokens_per_s"] / ours_r["tokens_per_s"]
    print(f"  step time ours / baseline: {ratio:.2f}x (cost of the IMU encoder path)")
    what = "GPU max allocated" if device.startswith("cuda") else "process max RSS"
    print(f"  peak memory ({what}): {peak:.0f} MiB")
    print(f"  MFU at {args.peak_tflops:g} TFLOP/s peak: {100 * ours_r['mfu']:.2f}% "
          f"({flops_per_token / 1e9:.3f} GFLOP per token)")
    return {**results, "ratio": ratio, "peak_mib": peak, "seq": seq}


if __name__ == "__main__":
    main(sys.argv[1:])
