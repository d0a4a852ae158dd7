"""IMU-Patchformer: patch counts and shapes over variable lengths, channel mixing, masks, resampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from imu2safety.training.encoder import EncoderConfig, IMUPatchformer, num_patches, resample


def _encoder(**kw) -> IMUPatchformer:
    torch.manual_seed(0)
    cfg = dict(d_model=16, n_heads=2, channel_layers=1, temporal_layers=1, dropout=0.0)
    return IMUPatchformer(EncoderConfig(**{**cfg, **kw})).eval()


def _batch(lengths: list[int], t: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = t or max(lengths)
    x = torch.randn(len(lengths), t, 6, generator=g) * 3
    mask = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
    return x, mask


@pytest.mark.parametrize("n, expected", [(1, 1), (31, 1), (32, 1), (33, 2), (48, 2), (49, 3), (100, 6)])
def test_num_patches_closed_form(n, expected):
    # ceil((n - 32) / 16) + 1 patches of 32 with stride 16; up to one patch: 1 (zero-padded)
    assert num_patches(n, 32, 16) == expected
    assert int(num_patches(torch.tensor([n]), 32, 16)[0]) == expected


def test_shapes_over_variable_lengths_and_masked_tokens_are_zero():
    enc = _encoder()
    lengths = [100, 40, 5, 33]
    x, mask = _batch(lengths)
    tokens, patch_mask = enc(x, mask)
    assert tokens.shape == (4, 6, 16) and patch_mask.shape == (4, 6)
    assert patch_mask.sum(1).tolist() == [num_patches(n, 32, 16) for n in lengths] == [6, 2, 1, 2]
    assert torch.all(tokens[~patch_mask] == 0) and torch.all(tokens[patch_mask].abs().sum(-1) > 0)
    per_channel, pm = enc(x, mask, channel_tokens=True)
    assert per_channel.shape == (4, 6, 6, 16) and torch.equal(pm, patch_mask)


def test_padding_changes_nothing():
    """A clip alone, or padded in a batch with garbage past its end, gives the same tokens."""
    enc = _encoder()
    x, mask = _batch([70, 200], seed=1)
    alone, pm_alone = enc(x[:1, :70], mask[:1, :70])
    garbage = x.clone()
    garbage[0, 70:] = 1e4  # values past the mask must not leak in
    batched, pm = enc(garbage, mask)
    p = int(pm_alone.sum())
    assert p == int(pm[0].sum()) == 4
    torch.testing.assert_close(batched[0, :p], alone[0, :p], rtol=1e-5, atol=1e-5)
    assert torch.all(batched[0, p:] == 0)
    for channel_tokens in (True,):
        a, _ = enc(x[:1, :70], mask[:1, :70], channel_tokens=channel_tokens)
        b, _ = enc(garbage, mask, channel_tokens=channel_tokens)
        torch.testing.assert_close(b[0, :, :p], a[0, :, :p], rtol=1e-5, atol=1e-5)


def test_clip_shorter_than_a_patch_is_zero_padded_to_one_patch():
    enc = _encoder()
    x, mask = _batch([5])
    tokens, pm = enc(x, mask)
    padded = torch.zeros(1, 32, 6)
    padded[0, :5] = x[0, :5]
    # the documented padding: equal to the clip explicitly zero-padded *after* normalisation,
    # which for the identity normalisation is zero-padding of the raw clip
    tokens2, pm2 = enc(padded, torch.ones(1, 32, dtype=torch.bool))
    assert pm.tolist() == pm2.tolist() == [[True]]
    torch.testing.assert_close(tokens, tokens2)


def test_channel_attention_mixes_channels():
    """Changing only the gyro-z input changes the ax token right after the channel stage.

    Without the channel attention (each channel alone) the ax token would not move: the second
    half of the test builds that broken encoder and checks the test would catch it.
    """
    enc = _encoder()
    x, mask = _batch([64])
    patches, _ = enc.patchify(x, mask)
    bumped = patches.clone()
    bumped[:, 5] += 1.0  # channel gz only
    before, after = enc.channel_mix(patches), enc.channel_mix(bumped)
    assert (after[:, :, 0] - before[:, :, 0]).abs().max() > 1e-3  # ax token moved
    broken = _encoder()
    broken.channel_attention = nn.Identity()
    before, after = broken.channel_mix(patches), broken.channel_mix(bumped)
    assert torch.equal(after[:, :, 0], before[:, :, 0])


def test_normalisation_statistics_travel_with_the_config():
    cfg = EncoderConfig(d_model=16, n_heads=2, norm_mean=[1, 2, 3, 4, 5, 6], norm_std=[2] * 6)
    again = EncoderConfig.from_dict(cfg.to_dict())
    assert again == cfg
    enc = IMUPatchformer(again)
    x = torch.tensor([[[1.0, 2, 3, 4, 5, 6]] * 32]) + 2.0
    patches, _ = enc.patchify(x, torch.ones(1, 32, dtype=torch.bool))
    assert torch.allclose(patches, torch.ones_like(patches))  # (x - mean) / std == 1
    with pytest.raises(ValueError, match="norm_std must be positive"):
        EncoderConfig(norm_std=[0.0] * 6)


def test_resample_keeps_a_slow_sine_and_rejects_nan():
    t = np.arange(400) / 100.0
    x = np.stack([np.sin(2 * np.pi * 1.0 * t)] * 6, axis=1)
    y = resample(x, 100.0, 50.0)
    assert y.shape == (200, 6) and y.dtype == np.float32
    ref = np.sin(2 * np.pi * 1.0 * np.arange(200) / 50.0)
    assert np.abs(y[20:-20, 0] - ref[20:-20]).max() < 0.01
    assert resample(x, 50.0, 50.0).shape == (400, 6)
    bad = x.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN/Inf .*sample 7, channel 2"):
        resample(bad, 100.0, 50.0)
    with pytest.raises(ValueError, match="positive"):
        resample(x, 0.0, 50.0)
