"""Batches for the IMU language model: padded IMU with masks, chat prompts with the IMU span, labels.

A prompt is the user turn ``imu_span(n) + "\\n" + instruction`` through the tokenizer's chat
template (``add_generation_prompt``); without a template, ``"User: ...\\nAssistant: "``. The
response is the rest of the templated conversation (or ``response + eos``), tokenized separately,
and only its tokens carry labels (the prompt and padding are -100). Responses are cut to fit
``max_length``; the prompt (with the IMU span) never is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .model import imu_span


def prompt_texts(tokenizer, user: str, response: str | None) -> tuple[str, str]:
    """(prompt text, response text) for one turn; see the module docstring."""
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False,
                                               add_generation_prompt=True)
        if response is None:
            return prompt, ""
        full = tokenizer.apply_chat_template([{"role": "user", "content": user},
                                              {"role": "assistant", "content": response}], tokenize=False)
        if full.startswith(prompt):
            return prompt, full[len(prompt):]
        return prompt, response + (tokenizer.eos_token or "")
    prompt = (tokenizer.bos_token or "") + f"User: {user}\nAssistant: "
    return prompt, "" if response is None else response + (tokenizer.eos_token or "")


@dataclass
class Collator:
    """items (``data.PairDataset`` dicts) -> batch of tensors for ``IMULanguageModel``.

    num_patches: samples -> encoder patches (``model.encoder.num_patches``).
    with_response: False for generation prompts (no response, no labels).
    padding_side: "right" for training/scoring, "left" for ``generate``.
    """

    tokenizer: object
    num_patches: object
    channel_markers: bool = False
    max_length: int = 1024
    with_response: bool = True
    padding_side: str = "right"

    def encode(self, imu_len: int, instruction: str, response: str | None) -> tuple[list[int], list[int]]:
        """(input_ids, labels) of one item."""
        user = imu_span(self.num_patches(imu_len), self.channel_markers) + "\n" + instruction
        prompt, answer = prompt_texts(self.tokenizer, user, response if self.with_response else None)
        p_ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        if len(p_ids) > self.max_length:
            raise ValueError(f"prompt of {len(p_ids)} tokens (IMU span included) exceeds max_length "
                             f"{self.max_length}: raise max_length or lower max_duration_s")
        a_ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"] if answer else []
        a_ids = a_ids[: self.max_length - len(p_ids)]
        return p_ids + a_ids, [-100] * len(p_ids) + a_ids

    def __call__(self, items: list[dict]) -> dict:
        b = len(items)
        t_max = max(len(it["imu"]) for it in items)
        imu = np.zeros((b, t_max, 6), np.float32)
        imu_mask = np.zeros((b, t_max), bool)
        seqs = []
        for k, it in enumerate(items):
            n = len(it["imu"])
            imu[k, :n], imu_mask[k, :n] = it["imu"], True
            seqs.append(self.encode(n, it["instruction"], it.get("response")))
        l_max = max(len(s) for s, _ in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((b, l_max), pad, dtype=torch.long)
        labels = torch.full((b, l_max), -100, dtype=torch.long)
        attn = torch.zeros((b, l_max), dtype=torch.long)
        for k, (s, lab) in enumerate(seqs):
            sl = slice(l_max - len(s), l_max) if self.padding_side == "left" else slice(0, len(s))
            ids[k, sl], labels[k, sl], attn[k, sl] = torch.tensor(s), torch.tensor(lab), 1
        batch = {"input_ids": ids, "attention_mask": attn, "imu": torch.from_numpy(imu),
                 "imu_mask": torch.from_numpy(imu_mask), "ids": [it["id"] for it in items]}
        if self.with_response:
            batch["labels"] = labels
        if "hazard" in items[0]:
            batch["hazard"] = torch.tensor([it["hazard"] for it in items])
            batch["activity"] = torch.tensor([it["activity"] for it in items])
        return batch
