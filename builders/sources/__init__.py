"""Source registry and the interface every source reader follows.

A source is a module (or an object with the same attributes) holding::

    NAME: str                                        # CLI name and dataset config name
    LICENSE: str; CITATION: str                      # short notes for the dataset card
    def list_inputs(input_dir: Path, **options) -> list[Path]   # sorted units of work
    def read(path: Path, **options) -> Iterator[Clip | Skip]   # never raises for a bad file

The skeleton readers also expose ``Options``, the dataclass of the keyword options that both
functions accept (``parse_options`` rejects unknown ones by name), so a CLI can list them.

``SOURCES`` maps every CLI name to its source and imports each one only when asked, so a source
whose module is missing or broken does not break the others.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from ...simulator.motion import Motion
from ..records import Item

#: CLI name -> "module" or "module:attribute", relative to this package.
SOURCE_PATHS: dict[str, str] = {
    "ntu": ".ntu",
    "utd-mhad": ".utd_mhad",
    "smartfallmm": ".smartfallmm",
    "bvh": ".folders:BVH",
    "npz": ".folders:NPZ",
    "utd-mhad-imu": ".utd_mhad_imu",
    "smartfallmm-imu": ".smartfallmm_imu",
    "weda-fall": ".weda_fall",
    "up-fall": ".up_fall",
    "kinetics": ".kinetics",
    "ucf-crime": ".ucf_crime",
    "le2i": ".le2i",
    "up-fall-video": ".up_fall_video",
}
#: Video sources (``VIDEO = True``): Stage 1 turns each annotated window into person tracks.
VIDEO_SOURCES = frozenset({"kinetics", "ucf-crime", "le2i", "up-fall-video"})
#: Sources whose rows are recorded IMU (``synthetic = False``); the others are simulated.
REAL_IMU_SOURCES = frozenset({"utd-mhad-imu", "smartfallmm-imu", "weda-fall", "up-fall"})


class Source(Protocol):
    """What the builder needs from a source (modules satisfy it structurally)."""

    NAME: str
    LICENSE: str
    CITATION: str

    def list_inputs(self, input_dir: Path, **options: Any) -> list[Path]: ...

    def read(self, path: Path, **options: Any) -> Iterator[Item]: ...


@functools.cache
def _load(name: str) -> Source:
    target = SOURCE_PATHS[name]
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name, package=__package__)
    except ImportError as err:
        raise ImportError(
            f"source {name!r} is registered but its module "
            f"{__package__}{module_name} could not be imported: {err}"
        ) from err
    return getattr(module, attr) if attr else module


class _LazySources(Mapping):
    """Read-only mapping name -> source that imports a source on first access."""

    def __getitem__(self, name: str) -> Source:
        if name not in SOURCE_PATHS:
            raise KeyError(name)
        return _load(name)

    def __iter__(self):
        return iter(SOURCE_PATHS)

    def __len__(self) -> int:
        return len(SOURCE_PATHS)

    def __repr__(self) -> str:
        return f"SOURCES({', '.join(SOURCE_PATHS)})"


#: Every source by CLI name (lazy: importing happens on ``SOURCES[name]``).
SOURCES: Mapping[str, Source] = _LazySources()


def get_source(name: str) -> Source:
    """The source registered as ``name``; ValueError listing the valid names when unknown."""
    if name not in SOURCE_PATHS:
        raise ValueError(f"unknown source {name!r}; valid sources: {', '.join(SOURCE_PATHS)}")
    return _load(name)


# --- helpers shared by the readers ---------------------------------------------------------

OptionsT = TypeVar("OptionsT")


def parse_options(cls: type[OptionsT], source: str, options: dict[str, Any]) -> OptionsT:
    """Build the options dataclass ``cls`` of ``source``; ValueError naming unknown options."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for source {source!r}; valid options: {names}"
        )
    return cls(**options)


def sorted_files(input_dir: Path, pattern: str) -> list[Path]:
    """Files under ``input_dir`` (recursive) matching ``pattern``, sorted by relative path."""
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    files = [p for p in root.rglob(pattern) if p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


#: world = M @ camera for Kinect v1/v2 camera space (x to the sensor's left, y up, z into the
#: scene): world (x, y, z) = camera (z, x, y). A cyclic permutation: proper rotation.
KINECT_TO_WORLD = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
#: world = M @ camera for the Azure Kinect depth camera (x right, y down, z forward):
#: world (x, y, z) = camera (z, -x, -y).
AZURE_TO_WORLD = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def camera_to_world(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 3) world-frame points (z up), same unit."""
    return np.asarray(points, dtype=np.float64) @ matrix.T


WRISTS = ("left_wrist", "right_wrist")


def motion_problem(motion: Motion, min_frames: int = 2) -> str | None:
    """Why ``motion`` cannot make a clip (too short, no wrist tracked), or None when usable."""
    if motion.num_frames < min_frames:
        return f"too short: {motion.num_frames} frame(s), need at least {min_frames}"
    wrists = [w for w in WRISTS if motion.has(w)]
    if not wrists:
        return "no wrist joint in the skeleton"
    if all(motion.joint_valid(w).sum() < min_frames for w in wrists):
        return f"no valid wrist: {' and '.join(wrists)} tracked in fewer than {min_frames} frames"
    return None
