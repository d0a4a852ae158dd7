"""VideoPose3D: published checkpoint layout loads without arbitrary unpickling and reproduces an
independent reference forward pass; receptive fields; padding, normalisation, flip, COCO->H36M."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from videokit import published_layout_checkpoint

from imu2safety.builders.video.lift import (COCO_LEFT, COCO_RIGHT, H36M_LEFT, H36M_RIGHT, Lifter,
                                            TemporalModel, coco_to_h36m, fill_low_confidence,
                                            load_checkpoint, model_from_state_dict,
                                            normalize_screen)
from imu2safety.simulator.joints import COCO_17, H36M_17


@pytest.mark.parametrize("widths,rf", [([3, 3, 3], 27), ([3, 3, 3, 3], 81), ([3, 3, 3, 3, 3], 243)])
def test_receptive_fields(widths, rf):
    m = TemporalModel(17, 2, 17, widths, channels=8).eval()
    assert m.receptive_field() == rf
    with torch.no_grad():
        assert m(torch.zeros(2, rf + 4, 17, 2)).shape == (2, 5, 17, 3)


def test_published_full_size_key_layout():
    """Keys and shapes of TemporalModel(17, 2, 17, [3]*5, channels=1024), as in the .bin files."""
    shapes = {k: tuple(v.shape) for k, v in
              TemporalModel(17, 2, 17, [3, 3, 3, 3, 3], channels=1024).state_dict().items()}
    assert shapes["expand_conv.weight"] == (1024, 34, 3)
    assert shapes["layers_conv.0.weight"] == (1024, 1024, 3)
    assert shapes["layers_conv.1.weight"] == (1024, 1024, 1)
    assert shapes["layers_conv.7.weight"] == (1024, 1024, 1)
    assert shapes["shrink.weight"] == (51, 1024, 1) and shapes["shrink.bias"] == (51,)
    assert shapes["layers_bn.7.running_var"] == (1024,)
    assert "layers_conv.8.weight" not in shapes and "expand_conv.bias" not in shapes
    assert sum(k.startswith("layers_bn.") for k in shapes) == 8 * 5  # w, b, mean, var, count


def _reference_forward(sd: dict, x: torch.Tensor, widths: list[int]) -> torch.Tensor:
    """Independent evaluation-mode forward from the raw state dict (functional ops only)."""
    def bn(h, p):
        return F.batch_norm(h, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
                            sd[p + ".bias"], training=False, eps=1e-5)

    n, t = x.shape[:2]
    h = x.reshape(n, t, -1).transpose(1, 2)
    h = F.relu(bn(F.conv1d(h, sd["expand_conv.weight"]), "expand_bn"))
    dil = widths[0]
    for i, fw in enumerate(widths[1:]):
        pad = (fw - 1) * dil // 2
        res = h[:, :, pad:h.shape[2] - pad]
        h = F.relu(bn(F.conv1d(h, sd[f"layers_conv.{2 * i}.weight"], dilation=dil), f"layers_bn.{2 * i}"))
        h = res + F.relu(bn(F.conv1d(h, sd[f"layers_conv.{2 * i + 1}.weight"]), f"layers_bn.{2 * i + 1}"))
        dil *= fw
    h = F.conv1d(h, sd["shrink.weight"], sd["shrink.bias"])
    return h.transpose(1, 2).reshape(n, -1, 17, 3)


@pytest.mark.parametrize("legacy", [False, True])
def test_checkpoint_loads_and_reproduces_reference(tmp_path, legacy):
    widths = [3, 3, 3, 3]
    path = tmp_path / "pretrained.bin"
    _, saved = published_layout_checkpoint(path, widths, channels=24, seed=3, legacy=legacy)
    # plain weights_only loading refuses the pickled NumPy RandomState
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    state = load_checkpoint(path)
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in saved.items()}
    for k in saved:
        assert torch.equal(state[k], saved[k])
    model = model_from_state_dict(state)
    assert model.filter_widths == widths and model.receptive_field() == 81
    x = torch.randn(2, 90, 17, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model(x)
        ref = _reference_forward({k: v.float() for k, v in saved.items()}, x, widths)
    assert ours.shape == (2, 10, 17, 3)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):  # would write a file when unpickled without restriction
        return (open, (self.target, "w"))


def test_loader_runs_no_arbitrary_code(tmp_path):
    target = tmp_path / "pwned.txt"
    model = TemporalModel(17, 2, 17, [3, 3, 3], channels=8)
    path = tmp_path / "evil.bin"
    torch.save({"evil": _Evil(str(target)), "model_pos": model.state_dict()}, path)
    state = load_checkpoint(path)
    assert not target.exists()
    assert set(state) == set(model.state_dict())
    bad = tmp_path / "nothing.bin"
    torch.save({"epoch": 3}, bad)
    with pytest.raises(ValueError, match="model_pos"):
        load_checkpoint(bad)


def test_one_output_frame_per_input_frame_and_flip_symmetry(tmp_path):
    path = tmp_path / "m.bin"
    published_layout_checkpoint(path, [3, 3, 3], channels=16, seed=1)
    rng = np.random.default_rng(0)
    T, W, H = 12, 640, 480
    kp = rng.uniform([100, 50], [540, 430], (T, 17, 2))
    sc = np.ones((T, 17))
    lifter = Lifter.from_checkpoint(path, flip=True)
    out = lifter(kp, sc, W, H)
    assert out.shape == (T, 17, 3) and np.isfinite(out).all()
    np.testing.assert_allclose(out[:, 0], 0.0)  # root-relative
    # flip test-time augmentation makes the lifter exactly mirror-equivariant:
    # mirroring the image (x -> W - x, left/right swapped) mirrors the 3D output.
    mir = kp.copy()
    mir[..., 0] = W - mir[..., 0]
    mir[:, COCO_LEFT + COCO_RIGHT] = mir[:, COCO_RIGHT + COCO_LEFT]
    out_m = lifter(mir, sc, W, H)
    expect = out.copy()
    expect[..., 0] *= -1
    expect[:, H36M_LEFT + H36M_RIGHT] = expect[:, H36M_RIGHT + H36M_LEFT]
    np.testing.assert_allclose(out_m, expect, atol=1e-5)
    # edge padding: a sequence of one repeated pose gives the same 3D pose in every frame
    still = lifter(np.repeat(kp[:1], 5, axis=0), sc[:5], W, H)
    np.testing.assert_allclose(still, np.repeat(still[:1], 5, axis=0), atol=1e-5)


def test_normalisation_and_joint_maps():
    xy = np.array([[0.0, 0.0], [640.0, 480.0], [320.0, 240.0]])
    np.testing.assert_allclose(normalize_screen(xy, 640, 480), [[-1, -0.75], [1, 0.75], [0, 0]])
    coco = np.arange(17 * 2, dtype=float).reshape(17, 2)
    h = coco_to_h36m(coco)
    c = {n: coco[i] for i, n in enumerate(COCO_17)}
    np.testing.assert_allclose(h[H36M_17.index("pelvis")], (c["left_hip"] + c["right_hip"]) / 2)
    np.testing.assert_allclose(h[H36M_17.index("right_wrist")], c["right_wrist"])
    np.testing.assert_allclose(h[H36M_17.index("thorax")],
                               (c["left_shoulder"] + c["right_shoulder"]) / 2)
    assert [H36M_17[i] for i in H36M_LEFT] == [H36M_17[i].replace("right", "left") for i in H36M_RIGHT]


def test_low_confidence_keypoints_are_interpolated():
    T = 5
    kp = np.zeros((T, 17, 2))
    kp[:, :, 0] = np.arange(T)[:, None] * 10.0
    sc = np.ones((T, 17))
    sc[2, 4] = 0.05
    kp[2, 4] = [999.0, -999.0]
    sc[:, 7] = 0.0  # never confident: from the body centre
    kp[:, 7] = np.nan
    out = fill_low_confidence(kp, sc, 0.3)
    np.testing.assert_allclose(out[2, 4], [20.0, 0.0])
    np.testing.assert_allclose(out[:, 7, 0], np.arange(T) * 10.0)
    assert np.isfinite(out).all()
