"""IMU-Patchformer: a PatchTST-style encoder of wrist IMU clips with attention across channels.

Input: ``imu`` (B, T, 6) float32, ax ay az in m/s^2 then gx gy gz in rad/s, sensor frame, sampled
at ``EncoderConfig.sample_rate_hz`` (clips are resampled to it by ``resample``), with ``mask``
(B, T) bool marking the real samples (True) of each right-padded clip.

Steps (shapes for a batch):
1. normalise each channel with the training-set statistics ``norm_mean`` / ``norm_std`` (they are
   part of the config, so they travel with every checkpoint); padded samples are then set to 0;
2. patch each channel (``unfold``, as transformers' ``PatchTSTPatchify``): (B, 6, P, patch_len);
   a clip of n samples has ``num_patches(n)`` patches; a clip shorter than one patch is zero-padded
   to one patch (documented padding, never an error); the last patch of a clip is zero-padded past
   its end, so a clip's patches do not depend on how much the batch is padded;
3. embed each patch (one linear map shared by the channels) plus a learned channel embedding:
   (B, P, 6, D);
4. **channel attention**: transformer layers over the 6 channel tokens of each patch (each time
   step), so every channel's token sees the others: (B, P, 6, D);
5. fuse the 6 channel tokens of a patch into one (linear map of their concatenation): (B, P, D),
   add a sinusoidal position encoding (any length) and run the temporal transformer with the
   patch padding mask.

``forward`` returns the fused tokens (B, P, D) and the patch mask (B, P); with
``channel_tokens=True`` it skips the fusion and returns one temporal sequence per channel
(B, 6, P, D) (the LLM then sees one marked run of tokens per channel, as in SensorLLM).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction

import numpy as np
import torch
from scipy.signal import resample_poly
from torch import nn

N_CHANNELS = 6


@dataclass
class EncoderConfig:
    """Hyper-parameters of the IMU-Patchformer; ``to_dict``/``from_dict`` round-trip it as JSON.

    sample_rate_hz: the documented input rate; every clip is resampled to it before encoding.
    patch_len, stride: patch length and hop, in samples at ``sample_rate_hz`` (default 32 / 16,
        0.64 s / 0.32 s at 50 Hz).
    d_model, n_heads, channel_layers, temporal_layers, ff_mult, dropout: transformer sizes.
    norm_mean, norm_std: per-channel statistics of the training set (6 floats each; m/s^2 and
        rad/s), computed by ``training.data.channel_stats``; identity until then.
    """

    sample_rate_hz: float = 50.0
    patch_len: int = 32
    stride: int = 16
    d_model: int = 128
    n_heads: int = 4
    channel_layers: int = 1
    temporal_layers: int = 2
    ff_mult: int = 2
    dropout: float = 0.1
    norm_mean: list[float] = field(default_factory=lambda: [0.0] * N_CHANNELS)
    norm_std: list[float] = field(default_factory=lambda: [1.0] * N_CHANNELS)

    def __post_init__(self) -> None:
        if not self.sample_rate_hz > 0:
            raise ValueError(f"sample_rate_hz must be positive, got {self.sample_rate_hz}")
        if self.patch_len < 1 or not 1 <= self.stride <= self.patch_len:
            raise ValueError(f"need patch_len >= 1 and 1 <= stride <= patch_len, got "
                             f"patch_len={self.patch_len}, stride={self.stride}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if len(self.norm_mean) != N_CHANNELS or len(self.norm_std) != N_CHANNELS:
            raise ValueError(f"norm_mean and norm_std need {N_CHANNELS} values each")
        if not all(s > 0 and math.isfinite(s) for s in self.norm_std):
            raise ValueError(f"norm_std must be positive and finite, got {self.norm_std}")
        self.norm_mean = [float(v) for v in self.norm_mean]
        self.norm_std = [float(v) for v in self.norm_std]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        return cls(**d)


def num_patches(n_samples: int | torch.Tensor, patch_len: int, stride: int):
    """Patches of a clip of ``n_samples``: 1 up to one patch, else ceil((n - patch_len) / stride) + 1.

    Works on ints and on integer tensors (elementwise).
    """
    if isinstance(n_samples, torch.Tensor):
        extra = torch.clamp(n_samples - patch_len, min=0)
        return torch.div(extra + stride - 1, stride, rounding_mode="floor") + 1
    return max(0, -(-(int(n_samples) - patch_len) // stride)) + 1


def resample(imu: np.ndarray, rate_hz: float, target_hz: float) -> np.ndarray:
    """(N, 6) samples at ``rate_hz`` -> (M, 6) float32 at ``target_hz`` (polyphase, anti-aliased).

    The ratio is approximated by a fraction with denominator <= 1000 (exact for common rates).
    Raises ValueError for a non-positive rate or NaN/Inf samples (the message says where).
    """
    imu = np.asarray(imu, dtype=np.float64)
    if imu.ndim != 2 or imu.shape[1] != N_CHANNELS or len(imu) < 1:
        raise ValueError(f"imu must be (N>=1, {N_CHANNELS}), got shape {imu.shape}")
    if not np.isfinite(imu).all():
        i, c = np.argwhere(~np.isfinite(imu))[0]
        raise ValueError(f"imu has NaN/Inf (first at sample {i}, channel {c}); clean or drop the clip")
    if not (rate_hz > 0 and math.isfinite(rate_hz)):
        raise ValueError(f"sample rate must be positive and finite, got {rate_hz}")
    ratio = Fraction(float(target_hz) / float(rate_hz)).limit_denominator(1000)
    if ratio == 1 or len(imu) < 2:
        return imu.astype(np.float32)
    out = resample_poly(imu, ratio.numerator, ratio.denominator, axis=0, padtype="line")
    return np.ascontiguousarray(out, dtype=np.float32)


def sinusoidal_positions(n: int, dim: int, device=None) -> torch.Tensor:
    """(n, dim) sinusoidal position encoding (Vaswani et al.), defined for any length n."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(n, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


def _layers(cfg: EncoderConfig, n: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.n_heads, cfg.ff_mult * cfg.d_model, cfg.dropout,
                                       activation="gelu", batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, n, enable_nested_tensor=False)


class IMUPatchformer(nn.Module):
    """The encoder (see the module docstring). ``forward(imu (B,T,6), mask (B,T))``."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.register_buffer("norm_mean", torch.tensor(config.norm_mean, dtype=torch.float32), persistent=False)
        self.register_buffer("norm_std", torch.tensor(config.norm_std, dtype=torch.float32), persistent=False)
        self.patch_embed = nn.Linear(config.patch_len, d)
        self.channel_embed = nn.Parameter(torch.randn(N_CHANNELS, d) * 0.02)
        self.channel_attention = _layers(config, config.channel_layers)
        self.fuse = nn.Linear(N_CHANNELS * d, d)
        self.temporal = _layers(config, config.temporal_layers)
        self.norm = nn.LayerNorm(d)

    def num_patches(self, n_samples):
        """Patches (= fused output tokens) of a clip of ``n_samples`` at the input rate."""
        return num_patches(n_samples, self.config.patch_len, self.config.stride)

    def patchify(self, imu: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised, zero-padded patches (B, 6, P, patch_len) and the patch mask (B, P)."""
        cfg = self.config
        if imu.ndim != 3 or imu.shape[-1] != N_CHANNELS:
            raise ValueError(f"imu must be (B, T, {N_CHANNELS}), got {tuple(imu.shape)}")
        lengths = mask.sum(1)
        if (lengths < 1).any():
            raise ValueError("every clip needs at least one sample (mask has an all-False row)")
        n_patch = self.num_patches(lengths)
        p_max = int(n_patch.max())
        need = cfg.patch_len + cfg.stride * (p_max - 1)
        x = (imu.float() - self.norm_mean) / self.norm_std
        x = torch.where(mask[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))
        if x.shape[1] < need:
            x = nn.functional.pad(x, (0, 0, 0, need - x.shape[1]))
        x = x[:, :need].transpose(1, 2).unfold(-1, cfg.patch_len, cfg.stride)  # (B, 6, P, L)
        patch_mask = torch.arange(p_max, device=imu.device)[None] < n_patch[:, None]
        return x, patch_mask

    def channel_mix(self, patches: torch.Tensor) -> torch.Tensor:
        """Embedded patches (B, 6, P, L) -> channel tokens (B, P, 6, D) after channel attention."""
        b, c, p, _ = patches.shape
        tok = self.patch_embed(patches).permute(0, 2, 1, 3) + self.channel_embed  # (B, P, 6, D)
        tok = self.channel_attention(tok.reshape(b * p, c, -1))
        return tok.reshape(b, p, c, -1)

    def forward(self, imu: torch.Tensor, mask: torch.Tensor,
                channel_tokens: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """imu (B, T, 6) float (m/s^2, rad/s), mask (B, T) bool -> (tokens, patch_mask (B, P) bool).

        tokens: (B, P, D), one fused token per patch; with ``channel_tokens`` (B, 6, P, D), one
        temporal sequence per channel (the fusion is skipped). Tokens at masked patches are zero.
        """
        patches, patch_mask = self.patchify(imu, mask)
        ch = self.channel_mix(patches)
        b, p, c, d = ch.shape
        pos = sinusoidal_positions(p, d, device=ch.device)
        if channel_tokens:
            seqs, n = ch.permute(0, 2, 1, 3) + pos, c           # (B, 6, P, D)
        else:
            seqs, n = (self.fuse(ch.reshape(b, p, c * d)) + pos)[:, None], 1
        pad = (~patch_mask)[:, None].expand(b, n, p).reshape(b * n, p)
        out = self.norm(self.temporal(seqs.reshape(b * n, p, d), src_key_padding_mask=pad))
        out = out.reshape(b, n, p, d) * patch_mask[:, None, :, None]
        return (out if channel_tokens else out[:, 0]), patch_mask
