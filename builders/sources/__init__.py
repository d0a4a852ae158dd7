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
import fnmatch
import functools
import importlib
import logging
import os
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from ...simulator.motion import Motion
from ..records import Item

logger = logging.getLogger(__name__)

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
#: CLI name -> the folder ``--input`` must name (shown by ``imu2safety build --help``).
SOURCE_INPUTS: dict[str, str] = {
    "ntu": "a folder holding NTU RGB+D 60/120 *.skeleton files (any depth), e.g. nturgbd_skeletons_s001_to_s017/",
    "utd-mhad": "UTD-MHAD's Skeleton/ folder (a*_s*_t*_skeleton.mat)",
    "smartfallmm": "SmartFallMM's young/ folder (or its skeleton/ folder): headerless Azure Kinect CSVs",
    "bvh": "a folder of *.bvh files with a labels.csv (file,label[,subject])",
    "npz": "a folder of skeleton *.npz files with a labels.csv (file,label[,subject])",
    "utd-mhad-imu": "UTD-MHAD's Inertial/ folder (a*_s*_t*_inertial.mat)",
    "smartfallmm-imu": "SmartFallMM's young/ folder (holding accelerometer/watch and gyroscope/watch)",
    "weda-fall": "the WEDA-FALL dataset folder (holding 50Hz/<F01..D11>/ and fall_timestamps.csv)",
    "up-fall": "a folder holding UP-Fall CompleteDataSet.csv (or the CSV itself)",
}
#: CLI name -> the function of ``builders.splits`` that assigns its splits (the card quotes its
#: docstring as the split protocol). Folder sources use ``sources.folders.folder_split``.
SOURCE_SPLITS: dict[str, str] = {
    "ntu": "ntu_split", "utd-mhad": "utd_mhad_split", "utd-mhad-imu": "utd_mhad_split",
    "smartfallmm": "smartfallmm_split", "smartfallmm-imu": "smartfallmm_split",
    "weda-fall": "weda_fall_split", "up-fall": "up_fall_split",
}

#: CLI name -> BibTeX of the source's paper (the card's citation section); sources without an
#: entry are cited by their ``CITATION`` text.
SOURCE_BIBTEX: dict[str, str] = {
    "ntu": """@inproceedings{shahroudy2016ntu,
  title = {{NTU RGB+D}: A Large Scale Dataset for {3D} Human Activity Analysis},
  author = {Shahroudy, Amir and Liu, Jun and Ng, Tian-Tsong and Wang, Gang},
  booktitle = {IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  year = {2016}
}
@article{liu2020ntu120,
  title = {{NTU RGB+D 120}: A Large-Scale Benchmark for {3D} Human Activity Understanding},
  author = {Liu, Jun and Shahroudy, Amir and Perez, Mauricio and Wang, Gang and Duan, Ling-Yu and Kot, Alex C.},
  journal = {IEEE Transactions on Pattern Analysis and Machine Intelligence},
  year = {2020}
}""",
    "utd-mhad": """@inproceedings{chen2015utdmhad,
  title = {{UTD-MHAD}: A Multimodal Dataset for Human Action Recognition Utilizing a Depth Camera and a Wearable Inertial Sensor},
  author = {Chen, Chen and Jafari, Roozbeh and Kehtarnavaz, Nasser},
  booktitle = {IEEE International Conference on Image Processing (ICIP)},
  year = {2015}
}""",
    "smartfallmm": """@misc{smartfallmm,
  title = {{SmartFallMM}: A Multimodal Dataset Collected with Commodity Devices},
  author = {{Texas State University SmartFall group} and Ngu, Anne},
  howpublished = {\\url{https://github.com/txst-cs-smartfall/SmartFallMM-Dataset}}
}""",
    "weda-fall": """@misc{wedafall,
  title = {{WEDA-FALL}: Wrist Elderly Daily Activity and Fall Dataset},
  author = {Marques, Jo{\\~a}o and others},
  howpublished = {\\url{https://github.com/joaojtmarques/WEDA-FALL}}
}""",
    "up-fall": """@article{martinez2019upfall,
  title = {{UP-Fall} Detection Dataset: A Multimodal Approach},
  author = {Mart{\\'i}nez-Villase{\\~n}or, Lourdes and Ponce, Hiram and Brieva, Jorge and Moya-Albor, Ernesto and N{\\'u}{\\~n}ez-Mart{\\'i}nez, Jos{\\'e} and Pe{\\~n}afort-Asturiano, Carlos},
  journal = {Sensors},
  volume = {19},
  number = {9},
  pages = {1988},
  year = {2019}
}""",
}
SOURCE_BIBTEX["utd-mhad-imu"] = SOURCE_BIBTEX["utd-mhad"]
SOURCE_BIBTEX["smartfallmm-imu"] = SOURCE_BIBTEX["smartfallmm"]

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
    if not options:  # (every read of a build takes its options here)
        return cls()
    hints = _type_hints(cls)
    return cls(**{k: _coerce(v, hints[k], f"{source} option {k}") for k, v in options.items()})


@functools.cache
def _type_hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` of an options class, evaluated once (it compiles each hint)."""
    return typing.get_type_hints(cls)


def coerce_options(source: str, options: dict[str, Any]) -> dict[str, Any]:
    """Command-line option strings of ``source`` as its options' types (``_coerce``), so that a
    build records and compares ``rate_hz=25.0``, not ``"25"``; unknown names pass unchanged (the
    reader's ``parse_options`` refuses them with the list of valid ones)."""
    cls = getattr(get_source(source), "Options", None)
    if cls is None or not dataclasses.is_dataclass(cls):
        return dict(options)
    hints = _type_hints(cls)
    return {k: _coerce(v, hints[k], f"{source} option {k}") if k in hints else v
            for k, v in options.items()}


def _coerce(value: Any, hint: Any, what: str) -> Any:
    """A command-line string (``--source-option rate_hz=25``) as the field's type: int, float,
    bool ("true"/"false"/"1"/"0"/"yes"/"no") or str, ``X | None`` accepting "none"; values that
    are not strings (options given from Python) pass unchanged. ValueError naming the option."""
    if not isinstance(value, str):
        return value
    args = typing.get_args(hint)
    optional = type(None) in args
    kinds = [a for a in args if a is not type(None)] if args else [hint]
    if optional and value.strip().lower() in ("none", "null", ""):
        return None
    if len(kinds) != 1 or kinds[0] not in (int, float, bool, str):
        return value
    kind = kinds[0]
    text = value.strip()
    if kind is bool:
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"{what} must be true or false, got {value!r}")
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{what} must be {'an integer' if kind is int else 'a number' if kind is float else kind.__name__}, got {value!r}") from None


def sorted_files(input_dir: Path, pattern: str) -> list[Path]:
    """Files under ``input_dir`` (recursive) matching ``pattern``, sorted by relative path.

    What ``Path.rglob(pattern)`` keeps with ``is_file()`` (case-sensitive shell pattern on the
    name, hidden files included, symbolic links to files kept, linked folders not entered), from
    one ``os.scandir`` per folder: rglob and is_file spend ~50 µs per file in path objects and
    stat calls, 6 s of serial start-up for an NTU-120-sized corpus. A subfolder that cannot be
    read is logged and left out (rglob leaves it out silently).
    """
    root = Path(input_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"input folder {root} does not exist or is not a folder")
    found: list[tuple[str, str]] = []  # (relative posix name, path)
    folders = [(os.fspath(root), "")]
    while folders:
        folder, rel = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir() and not entry.is_symlink():
                            folders.append((entry.path, f"{rel}{entry.name}/"))
                        elif fnmatch.fnmatchcase(entry.name, pattern) and entry.is_file():
                            found.append((rel + entry.name, entry.path))
                    except OSError as err:  # (vanished while listing)
                        logger.warning("input %s left out: %s", entry.path, err)
        except OSError as err:
            if folder == os.fspath(root):
                raise
            logger.warning("input folder %s left out: cannot list it: %s", folder, err)
    found.sort()
    return [Path(path) for _, path in found]


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
