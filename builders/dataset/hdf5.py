"""Export a dataset folder to one HDF5 file, for tools that do not read Parquet.

Layout: one group ``/{config}/{split}`` per split that holds rows, with

- ``imu``: (sum N, 6) float32, all clips concatenated (ax ay az m/s^2, gx gy gz rad/s, sensor frame);
  clip i is ``imu[offsets[i]:offsets[i + 1]]``. Attributes ``channels``, ``units``, ``frame``.
- ``offsets``: (n + 1,) int64.
- ``hazard``: (n,) int64 ClassLabel index, attribute ``names``.
- one (n,) dataset per other column: UTF-8 strings, bool, float32, int64; ``instructions`` and ``facts`` as JSON.

File attributes: ``codebase_version``, ``created_by``; group ``/{config}`` attributes: ``source``,
``simulator_version``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..labels import HAZARD_NAMES
from .layout import TMP_SUFFIX, load_info
from ..records import SPLITS
from .schema import FEATURES, IMU_CHANNELS, IMU_UNITS, imu_arrays
from .writer import read_split

_STR = h5py.string_dtype("utf-8")


def export_hdf5(dataset_dir: str | Path, out_path: str | Path, configs: list[str] | None = None) -> Path:
    """Write every (or the named) config of ``dataset_dir`` to ``out_path``; returns the path."""
    info = load_info(dataset_dir)
    names = sorted(info.configs) if configs is None else list(configs)
    unknown = sorted(set(names) - set(info.configs))
    if unknown:
        raise ValueError(f"configs {unknown} not in {dataset_dir}; it holds {sorted(info.configs)}")
    out_path = Path(out_path)
    tmp = out_path.with_name(out_path.name + TMP_SUFFIX)
    with h5py.File(tmp, "w", track_order=True) as f:
        f.attrs["codebase_version"] = info.codebase_version
        f.attrs["created_by"] = info.created_by
        for name in names:
            cfg = info.configs[name]
            group = f.create_group(name, track_order=True)
            group.attrs["source"] = cfg.source
            group.attrs["simulator_version"] = cfg.simulator_version
            for split in SPLITS:
                if cfg.split_counts.get(split, 0):
                    _write_split(group.create_group(split), read_split(dataset_dir, name, split))
    os.replace(tmp, out_path)
    return out_path


def _write_split(g: h5py.Group, table) -> None:
    values, offsets = imu_arrays(table["imu"])
    d = g.create_dataset("imu", data=values, chunks=True, compression="gzip", track_times=False)
    d.attrs["channels"] = list(IMU_CHANNELS)
    d.attrs["units"] = [IMU_UNITS[c] for c in IMU_CHANNELS]
    d.attrs["frame"] = "sensor (Android device axes); accelerometer = specific force"
    g.create_dataset("offsets", data=offsets, track_times=False)
    for name, feature in FEATURES.items():
        if name == "imu":
            continue
        column = table[name].to_pylist()
        if name == "hazard":
            d = g.create_dataset(name, data=np.asarray(column, np.int64), track_times=False)
            d.attrs["names"] = list(HAZARD_NAMES)
        elif name in ("instructions", "facts"):
            data = [json.dumps(v, ensure_ascii=False) for v in column]
            g.create_dataset(name, data=np.array(data, dtype=object), dtype=_STR, track_times=False)
        elif getattr(feature, "dtype", None) == "string":
            g.create_dataset(name, data=np.array(column, dtype=object), dtype=_STR, track_times=False)
        else:
            g.create_dataset(name, data=np.asarray(column, dtype=feature.dtype), track_times=False)
    g["sample_rate_hz"].attrs["unit"] = "Hz"
