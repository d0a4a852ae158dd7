"""Shipped baselines: window features + gradient boosting, and a small 1D-CNN (torch).

Both take windows (N, T, 6) of ax ay az (m/s^2) gx gy gz (rad/s) at the task's rate and the
task's labels; both weight classes inversely to their frequency; both are deterministic for a
given seed (the CNN trains on one CPU thread). ``train_baseline`` trains either one on any built
dataset config and, given a benchmark folder, writes a submission for its test windows.

- ``gbm``: 12 statistics (mean, std, min, max, 10/50/90th percentiles, range, mean |first
  difference|, max |first difference|, energy, lag-1 autocorrelation) of the 6 channels and of
  |a| and |g| (96 features), scikit-learn's HistGradientBoostingClassifier (50 iterations,
  learning rate 0.2, 15 leaves, no early stopping, one thread).
- ``cnn``: per-channel standardisation (training statistics) -> Conv1d(6, 32, 7) -> ReLU ->
  MaxPool(2) -> Conv1d(32, 64, 5) -> ReLU -> MaxPool(2) -> Conv1d(64, 64, 3) -> ReLU -> global
  average -> Linear(64, k); Adam (lr 1e-3), 15 epochs of batches of 64, weighted cross-entropy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .tasks import Task, Windows, get_task, load_windows

MODELS = ("gbm", "cnn")


def window_features(imu: np.ndarray) -> np.ndarray:
    """(N, T, 6) windows -> (N, 96) features (12 statistics of ax ay az gx gy gz |a| |g|)."""
    x = np.asarray(imu, dtype=np.float64)
    x = np.concatenate([x, np.linalg.norm(x[..., :3], axis=-1, keepdims=True),
                        np.linalg.norm(x[..., 3:], axis=-1, keepdims=True)], axis=-1)
    d = np.abs(np.diff(x, axis=1))
    pct = np.percentile(x, [10, 50, 90], axis=1)
    mean, std = x.mean(1), x.std(1)
    c = x - mean[:, None, :]
    denom = (c * c).sum(1)
    ac1 = np.where(denom > 1e-12, (c[:, 1:] * c[:, :-1]).sum(1) / np.where(denom > 1e-12, denom, 1), 0.0)
    stats = [mean, std, x.min(1), x.max(1), *pct, x.max(1) - x.min(1), d.mean(1), d.max(1),
             (x * x).mean(1), ac1]
    return np.stack(stats, axis=2).reshape(len(x), -1)


def class_weights(y: np.ndarray, k: int) -> np.ndarray:
    """(k,) weights n / (k_present * count) for present classes, 0 for absent ones."""
    counts = np.bincount(y, minlength=k).astype(np.float64)
    present = counts > 0
    w = np.zeros(k)
    w[present] = len(y) / (present.sum() * counts[present])
    return w


def augment_windows(windows: Windows | None, copies: int = 2, seed: int = 0,
                    max_angle_deg: float = 30.0) -> Windows | None:
    """The windows plus ``copies`` augmented copies of each (ids ``<id>~waug<k>``).

    Each copy: one random rotation of the sensor frame (uniform axis, angle uniform in
    [0, max_angle_deg]) applied to accelerometer and gyroscope alike, a gain per channel from
    N(1, 0.05), white noise (0.05 m/s^2, 0.01 rad/s) and a circular time shift of up to 10 % of
    the window; draws from ``seed`` in window order.
    """
    from scipy.spatial.transform import Rotation

    if windows is None or len(windows) == 0:
        return windows
    rng = np.random.default_rng(seed)
    n, t = windows.imu.shape[:2]
    parts = [windows]
    for k in range(1, copies + 1):
        axis = rng.normal(size=(n, 3))
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        angle = np.radians(rng.uniform(0, max_angle_deg, size=n))
        rot = Rotation.from_rotvec(axis * angle[:, None]).as_matrix()       # (n, 3, 3)
        x = windows.imu.astype(np.float64)
        a = np.einsum("nij,ntj->nti", rot, x[..., :3])
        g = np.einsum("nij,ntj->nti", rot, x[..., 3:])
        x = np.concatenate([a, g], axis=-1) * rng.normal(1.0, 0.05, size=(n, 1, 6))
        x += rng.normal(size=x.shape) * np.array([0.05] * 3 + [0.01] * 3)
        shift = rng.integers(-t // 10, t // 10 + 1, size=n)
        x = np.stack([np.roll(x[i], shift[i], axis=0) for i in range(n)])
        parts.append(Windows(np.array([f"{i}~waug{k}" for i in windows.ids.tolist()]),
                             x.astype(np.float32), windows.labels, windows.subjects, windows.trials,
                             windows.start_s, windows.daily, windows.sample_rate_hz, windows.task))
    return Windows.concatenate(parts, windows.task)


@dataclass
class Trained:
    """A fitted baseline: ``predict_proba(imu (N, T, 6)) -> (N, k)`` over ``labels``."""

    model: str
    labels: tuple[str, ...]
    fitted: object
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def predict_proba(self, imu: np.ndarray) -> np.ndarray:
        if self.model == "gbm":
            clf = self.fitted
            proba = np.zeros((len(imu), len(self.labels)))
            if len(imu):
                with threadpool_limits(1):
                    proba[:, clf.classes_] = clf.predict_proba(window_features(imu))
            return proba
        return _cnn_predict(self, imu)


def _encode(labels: np.ndarray, task: Task) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(task.labels)}
    return np.array([index[v] for v in labels.tolist()], dtype=np.int64)


def train(model: str, train_windows: Windows, seed: int = 0, epochs: int = 15) -> Trained:
    """Fit ``model`` ("gbm" or "cnn") on windows of one task."""
    task = train_windows.task
    if len(train_windows) == 0:
        raise ValueError(f"{task.name}: no training window")
    y = _encode(train_windows.labels, task)
    k = len(task.labels)
    if model == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        if len(np.unique(y)) < 2:
            raise ValueError(f"{task.name}: training windows hold one class only")
        clf = HistGradientBoostingClassifier(max_iter=50, learning_rate=0.2, max_leaf_nodes=15,
                                             early_stopping=False, random_state=seed)
        with threadpool_limits(1):  # one thread: fast on a shared machine, same result everywhere
            clf.fit(window_features(train_windows.imu), y, sample_weight=class_weights(y, k)[y])
        return Trained("gbm", task.labels, clf)
    if model == "cnn":
        return _cnn_train(train_windows.imu, y, task, seed, epochs)
    raise ValueError(f"unknown baseline {model!r}; choose one of {MODELS}")


# ---------------------------------------------------------------- CNN

def _cnn_module(k: int):
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv1d(6, 32, 7, padding=3), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        nn.Linear(64, k))


def _cnn_train(imu: np.ndarray, y: np.ndarray, task: Task, seed: int, epochs: int) -> Trained:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same floating-point sums on every machine
    try:
        torch.manual_seed(seed)
        mean = imu.reshape(-1, 6).mean(0)
        std = imu.reshape(-1, 6).std(0) + 1e-6
        x = torch.from_numpy(((imu - mean) / std).astype(np.float32)).permute(0, 2, 1).contiguous()
        t = torch.from_numpy(y)
        net = _cnn_module(len(task.labels))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss(
            weight=torch.from_numpy(class_weights(y, len(task.labels)).astype(np.float32)))
        gen = torch.Generator().manual_seed(seed)
        net.train()
        for _ in range(epochs):
            order = torch.randperm(len(x), generator=gen)
            for i in range(0, len(x), 64):
                b = order[i:i + 64]
                opt.zero_grad()
                loss_fn(net(x[b]), t[b]).backward()
                opt.step()
        net.eval()
    finally:
        torch.set_num_threads(threads)
    return Trained("cnn", task.labels, net, mean, std)


def _cnn_predict(m: Trained, imu: np.ndarray) -> np.ndarray:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.from_numpy(((imu - m.mean) / m.std).astype(np.float32)).permute(0, 2, 1)
        with torch.no_grad():
            return torch.softmax(m.fitted(x.contiguous()), dim=1).double().numpy()
    finally:
        torch.set_num_threads(threads)


def save_cnn(m: Trained, folder: Path) -> None:
    """model.safetensors + config.json (labels, standardisation) of a trained CNN."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in m.fitted.state_dict().items()},
              str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(
        {"model": "cnn", "labels": list(m.labels), "mean": m.mean.tolist(), "std": m.std.tolist()},
        indent=2) + "\n")


def load_cnn(folder: Path) -> Trained:
    """A CNN saved by ``save_cnn`` (tensors only; nothing is unpickled)."""
    from safetensors.torch import load_file

    cfg = json.loads((Path(folder) / "config.json").read_text())
    net = _cnn_module(len(cfg["labels"]))
    net.load_state_dict(load_file(str(Path(folder) / "model.safetensors")))
    net.eval()
    return Trained("cnn", tuple(cfg["labels"]), net, np.array(cfg["mean"]), np.array(cfg["std"]))


# ---------------------------------------------------------------- submissions

def predictions(m: Trained, windows: Windows) -> list[dict]:
    """Submission lines {"id", "label", "score"} (score: probability of a positive label)."""
    proba = m.predict_proba(windows.imu)
    pos = np.array([lab in windows.task.positive for lab in m.labels])
    out = []
    for i, wid in enumerate(windows.ids.tolist()):
        line = {"id": wid, "label": m.labels[int(np.argmax(proba[i]))]}
        if pos.any():
            line["score"] = float(np.clip(proba[i, pos].sum(), 0.0, 1.0))
        out.append(line)
    return out


def write_jsonl(lines: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


def train_baseline(task: str, model: str, data: Path, config: str | None, output: Path,
                   benchmark: Path | None = None, seed: int = 0,
                   exclude_subjects=()) -> str:
    """Train ``model`` on the task's windows of a built dataset; save it; predict ``benchmark``.

    The benchmark's test subjects are always left out of training. Returns a summary line.
    """
    from ..builders.dataset.layout import load_info
    from .prepare import dataset_windows

    t = get_task(task)
    data, output = Path(data), Path(output)
    config = config or sorted(load_info(data).configs)[0]
    exclude = set(exclude_subjects)
    test = None
    if benchmark is not None:
        test = load_windows(benchmark, "test")
        if test.task.name != t.name:
            raise ValueError(f"{benchmark} is a {test.task.name} benchmark, not {t.name}")
        exclude |= set(test.subjects.tolist())
    windows = dataset_windows(t, data, config, exclude_subjects=exclude)
    m = train(model, windows, seed=seed)
    output.mkdir(parents=True, exist_ok=True)
    if model == "cnn":
        save_cnn(m, output)
    else:  # no pickle: the fitted trees are not saved; retrain with the same seed to reproduce
        (output / "config.json").write_text(json.dumps(
            {"model": "gbm", "labels": list(m.labels), "data": data.name, "config": config,
             "seed": seed, "note": "not persisted (no pickle); the same command refits it"},
            indent=2) + "\n")
    summary = f"trained {model} on {len(windows)} windows of {data.name}/{config} -> {output}"
    if test is not None:
        write_jsonl(predictions(m, test), output / "predictions.jsonl")
        summary += (f"; predictions for {len(test)} test windows in {output / 'predictions.jsonl'}"
                    f" (score them with `imu2safety evaluate {benchmark} --predictions "
                    f"{output / 'predictions.jsonl'}`)")
    return summary
