"""Predictions of an ``IMULanguageModel`` on clips, and the metrics the trainer keeps the best by.

``predict_clips`` gives one dict per clip: ``id``, ``hazard``, ``safe``, ``activity``, ``score``
(probability of unsafe, 1 - p(hazard none), from the classification head; None in generation
mode) and ``text`` (the generated answer to ``data.LABEL_INSTRUCTION``, parsed with
``data.parse_response``; "" in classification mode). An answer that names no hazard is predicted
``"unparsed"`` (counted wrong) with ``safe`` None.

``hazard_metrics``: macro-F1 over the hazard classes present in the truth, recall of unsafe clips
(the share of truly unsafe clips predicted unsafe), and a per-class table.
"""

from __future__ import annotations

import torch
from sklearn.metrics import f1_score, precision_recall_fscore_support

from .collate import Collator
from .data import LABEL_INSTRUCTION, Clip, parse_response

UNPARSED = "unparsed"


def make_collator(model, with_response: bool = True, padding_side: str = "right",
                  max_length: int = 1024) -> Collator:
    """The collator matching ``model`` (its tokenizer, patching and span format)."""
    return Collator(model.tokenizer, model.encoder.num_patches, model.config.channel_markers,
                    max_length=max_length, with_response=with_response, padding_side=padding_side)


@torch.no_grad()
def predict_clips(model, clips: list[Clip], batch_size: int = 8, max_new_tokens: int = 48,
                  device: torch.device | str | None = None, with_probs: bool = False) -> list[dict]:
    """One prediction dict per clip (see the module docstring); the model is left in eval mode.

    with_probs: classification mode also gives ``p_hazard`` {hazard: probability}.
    """
    model.eval()
    device = device or next(model.parameters()).device
    classify = model.config.objective == "classify"
    collate = make_collator(model, with_response=False, padding_side="right" if classify else "left")
    out = []
    for start in range(0, len(clips), batch_size):
        chunk = clips[start:start + batch_size]
        batch = collate([{"id": c.id, "imu": c.imu, "instruction": LABEL_INSTRUCTION} for c in chunk])
        batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        if classify:
            res = model(**batch)
            p_hazard = res["hazard_logits"].float().softmax(-1)
            hazards = p_hazard.argmax(-1).tolist()
            acts = res["activity_logits"].argmax(-1).tolist()
            none = model.config.hazards.index("none")
            for c, h, a, p in zip(chunk, hazards, acts, p_hazard.tolist()):
                name = model.config.hazards[h]
                out.append({"id": c.id, "hazard": name, "safe": name == "none",
                            "activity": model.config.activities[a], "score": 1.0 - p[none], "text": ""})
                if with_probs:
                    out[-1]["p_hazard"] = dict(zip(model.config.hazards, p))
        else:
            gen = model.generate(batch["input_ids"], batch["attention_mask"], batch["imu"], batch["imu_mask"],
                                 max_new_tokens=max_new_tokens)
            for c, seq in zip(chunk, gen):
                text = model.tokenizer.decode(seq, skip_special_tokens=True).strip()
                hazard, safe, activity = parse_response(text)
                out.append({"id": c.id, "hazard": hazard or UNPARSED, "safe": safe, "activity": activity,
                            "score": None, "text": text})
    return out


def hazard_metrics(true: list[str], pred: list[str], pred_safe: list[bool | None] | None = None) -> dict:
    """``macro_f1``, ``unsafe_recall`` and ``per_class`` {hazard: {precision, recall, f1, support}}.

    pred_safe: the predicted safe flags (default: pred == "none"); None counts as not unsafe.
    """
    labels = sorted(set(true))
    p, r, f, n = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    per_class = {h: {"precision": float(a), "recall": float(b), "f1": float(c), "support": int(d)}
                 for h, a, b, c, d in zip(labels, p, r, f, n)}
    if pred_safe is None:
        pred_safe = [h == "none" for h in pred]
    unsafe = [i for i, h in enumerate(true) if h != "none"]
    recall = sum(pred_safe[i] is False for i in unsafe) / len(unsafe) if unsafe else float("nan")
    return {"macro_f1": float(f1_score(true, pred, labels=labels, average="macro", zero_division=0)),
            "unsafe_recall": recall, "per_class": per_class}


def format_table(per_class: dict) -> str:
    """The per-class table as text."""
    lines = [f"{'hazard':20s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>4s}"]
    for h, m in per_class.items():
        lines.append(f"{h:20s} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:4d}")
    return "\n".join(lines)


def evaluate(model, clips: list[Clip], batch_size: int = 8, **kwargs) -> dict:
    """``hazard_metrics`` of ``predict_clips`` on ``clips`` (with their own labels)."""
    preds = predict_clips(model, clips, batch_size, **kwargs)
    return hazard_metrics([c.hazard for c in clips], [p["hazard"] for p in preds], [p["safe"] for p in preds])
