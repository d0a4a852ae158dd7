"""Batching variable-length clips for a torch ``DataLoader`` over ``with_format("torch")``.

Clips differ in length, so the default collate cannot stack them. ``collate`` pads each batch to
its longest clip and returns a mask; ``FixedWindows`` instead cuts (or pads) every clip to one
window length. Both keep the other columns: numbers become tensors, strings stay lists.

    from torch.utils.data import DataLoader
    from imu2safety.builders.dataset.collate import collate
    ds = load_dataset("ORG/NAME", "utd-mhad", split="train").with_format("torch")
    loader = DataLoader(ds, batch_size=32, shuffle=True, collate_fn=collate)
    batch = next(iter(loader))
    batch["imu"]       # (B, T_max, 6) float32, zero after each clip's end
    batch["mask"]      # (B, T_max) bool, True on real samples
    batch["length"]    # (B,) int64
    batch["hazard"]    # (B,) int64 ClassLabel index
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence


def _stack_other(batch: Sequence[Mapping[str, Any]], out: dict[str, Any]) -> dict[str, Any]:
    import torch

    for key in batch[0]:
        if key == "imu":
            continue
        values = [row[key] for row in batch]
        if all(isinstance(v, torch.Tensor) and v.ndim == 0 for v in values):
            out[key] = torch.stack(values)
        elif all(isinstance(v, (bool, int, float)) for v in values):
            out[key] = torch.tensor(values)
        else:
            out[key] = values  # strings, JSON, instruction lists
    return out


def _as_tensor(imu) -> "Any":
    import torch

    t = imu if isinstance(imu, torch.Tensor) else torch.as_tensor(imu)
    return t.to(torch.float32).reshape(-1, 6)


def collate(batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pad ``imu`` (N_i, 6) of each row to the batch's longest clip.

    Returns ``imu`` (B, T_max, 6) float32 (zeros after each clip's end), ``mask`` (B, T_max) bool,
    ``length`` (B,) int64, and every other column (tensors for numbers and bools, lists otherwise).
    """
    import torch

    if not batch:
        raise ValueError("collate needs at least one row")
    imus = [_as_tensor(row["imu"]) for row in batch]
    lengths = torch.tensor([len(x) for x in imus], dtype=torch.int64)
    padded = torch.nn.utils.rnn.pad_sequence(imus, batch_first=True)
    mask = torch.arange(padded.shape[1])[None, :] < lengths[:, None]
    return _stack_other(batch, {"imu": padded, "mask": mask, "length": lengths})


@dataclass(frozen=True)
class FixedWindows:
    """Collate to fixed windows of ``length`` samples: each clip's centre window (``where="center"``)
    or its start (``"start"``); shorter clips are zero-padded and masked.

    Use it as ``collate_fn=FixedWindows(length=150)`` (3 s at 50 Hz).
    """

    length: int
    where: str = "center"

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"length must be >= 1 samples, got {self.length}")
        if self.where not in ("center", "start"):
            raise ValueError(f"where must be 'center' or 'start', got {self.where!r}")

    def __call__(self, batch: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        out = torch.zeros((len(batch), self.length, 6), dtype=torch.float32)
        mask = torch.zeros((len(batch), self.length), dtype=torch.bool)
        for i, row in enumerate(batch):
            x = _as_tensor(row["imu"])
            start = max(0, (len(x) - self.length) // 2) if self.where == "center" else 0
            piece = x[start:start + self.length]
            out[i, :len(piece)] = piece
            mask[i, :len(piece)] = True
        return _stack_other(batch, {"imu": out, "mask": mask, "length": mask.sum(1)})
