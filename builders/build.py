"""One build: a source folder on disk -> one config of the versioned Parquet dataset.

Inputs (files) are listed in a deterministic order and cut into chunks; each chunk is read,
simulated (skeleton sources) or taken as recorded (real-IMU sources) and committed atomically by
``DatasetWriter``. A killed build run again continues after its last committed chunk. With
``num_proc > 1`` chunks are processed by a process pool and committed in order, so the output is
byte-identical to a single-process build.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import stat
import time
import warnings
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from ..simulator.augment import AugmentOptions, apply_output, augmented_copy
from ..simulator.imu import SIMULATOR_VERSION, ImuRecording, SimulationOptions, simulate_many
from ..simulator.limits import Limits, imu_problem, use_limits
from .instructions.facts import compute_facts
from .keyset import KeySet, key
from .records import Clip, Skip
from .sources import REAL_IMU_SOURCES, VIDEO_SOURCES, get_source
from .dataset.layout import CODEBASE_VERSION
from .dataset.remote import is_remote
from .pool import build_gc, worker_pool

if TYPE_CHECKING:  # the writer (and with it ``datasets``) is imported by the driver only:
    from .dataset.writer import DatasetWriter  # worker processes start faster without it

logger = logging.getLogger(__name__)

#: Build engines: where chunks are processed. Both commit the same chunks in input order.
ENGINES = ("local", "ray")


@dataclass
class RayOptions:
    """Options of the Ray engine (``--engine ray``); none of them changes the rows.

    address: Ray cluster to join ("auto", "ray://host:10001", ...); None starts a local instance.
    workers: read/reconstruct actors (and at most as many simulation tasks in flight); None = the
        cluster's CPU count. num_gpus_per_worker: GPUs per read actor (video sources; 0 = CPU).
    num_cpus: CPUs of a locally started instance (None = all).
    max_retries: times a lost read actor is restarted and a lost simulation task re-run before
        the build fails (Ray Data's own default is unlimited, which can loop forever on a node
        that keeps dying); a chunk is still committed once.
    """

    address: str | None = None
    workers: int | None = None
    num_gpus_per_worker: float = 0.0
    num_cpus: int | None = None
    max_retries: int = 3

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.num_gpus_per_worker < 0:
            raise ValueError(f"num_gpus_per_worker must be >= 0, got {self.num_gpus_per_worker}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")


@dataclass
class BuildOptions:
    """What to build.

    source: CLI name of the source (see ``sources.SOURCE_PATHS``); also the config name.
    input_dir / output_dir: the source's files; the dataset folder (may hold other configs).
    rate_hz, placement, device, seed, calibration: simulation options (skeleton sources only);
        calibration is the path of a JSON written by ``imu2safety calibrate``.
    cutoff_hz: motion low-pass, Hz; None takes the source's ``CUTOFF_HZ`` (its tracker's noise
        level) or else the simulator's "auto" (chosen from the input kind, ``simulator.cutoff``).
    augment: extra copies of every skeleton clip (ids ``<id>~aug<k>``), each with the
        augmentations of ``augment_kinds`` (``simulator.augment``); draws from (seed, clip id, k).
    augment_kinds: any of ``simulator.augment.AUGMENTATIONS``: "jitter" (mounting +-2 cm, up to
        20 degrees), "mirror" (even k: the mirrored motion), "warp" (time warp), "scale"
        (amplitude scaling), "device" (random device profile), "cutoff" (random low-pass cutoff),
        "roll" (turned up to 30 degrees about the forearm).
    num_proc: worker processes. chunk_inputs: inputs per committed chunk (bounds shard size).
    source_options: keyword options of the source reader (e.g. {"protocol": "xview"} for NTU).
    stage1: video sources only: ``builders.video.pipeline.Stage1Options`` fields (pose_backend,
        detector, pose_model, lifter_checkpoint, device, batch_size, ...); {} = its defaults.
    stage1_cache: video sources only: folder of the Stage-1 cache (one .npz per video window and
        options); None = ``default_stage1_cache()``. Kept out of the dataset folder.
    limits: overrides of the plausibility limits (``simulator.limits.Limits`` field -> value);
        clips beyond the limits are skipped with the reason.

    Real-IMU sources take their recordings as they are: the simulation options (rate_hz,
    placement, device, seed, calibration, cutoff_hz, augment) do not apply to them; they are
    ignored with a warning and not recorded (their own rate is a source option, ``rate_hz``).
    instructions: write checked instruction pairs into every row (``builders/instructions``);
        False leaves the column empty. Facts are always computed.
    teacher: "none", "local:MODEL" (a transformers folder or id) or "openai:URL" (an
        OpenAI-compatible endpoint; ``teacher_model`` names the model, the key comes from the
        environment variable ``teacher_key_env``); its rewrites pass the checker or are discarded.
    teacher_cache: folder of the teacher's answer cache (default: a ``cache/teacher`` folder in
        the output, never pushed).
    engine: "local" (this machine, ``num_proc`` processes) or "ray" (a Ray cluster, see
        ``builders.engine_ray``; ``ray`` holds its options). The engine never changes the rows:
        both write byte-identical datasets, so neither it nor ``num_proc`` is recorded.
    output_dir may also be an fsspec URL (``s3://bucket/ds``): the build then runs in the local
        working copy ``staging_dir`` (default ``dataset.remote.default_staging``), pulled from
        the URL first and pushed after every committed chunk (``builders.dataset.remote``).
    """

    source: str
    input_dir: Path
    output_dir: Path
    rate_hz: float = 50.0
    placement: str = "left_wrist"
    device: str = "ideal"
    seed: int = 0
    calibration: Path | None = None
    cutoff_hz: float | None = None
    augment: int = 0
    augment_kinds: tuple[str, ...] = ("jitter", "mirror")
    num_proc: int = 1
    chunk_inputs: int = 256
    source_options: dict[str, Any] = field(default_factory=dict)
    stage1: dict[str, Any] = field(default_factory=dict)
    stage1_cache: Path | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    instructions: bool = True
    teacher: str = "none"
    teacher_model: str | None = None
    teacher_key_env: str = "OPENAI_API_KEY"
    teacher_cache: Path | None = None
    engine: str = "local"
    ray: RayOptions | None = None
    staging_dir: Path | None = None

    def __post_init__(self) -> None:
        self.input_dir = Path(self.input_dir)
        if not is_remote(self.output_dir):
            self.output_dir = Path(self.output_dir)
        if self.num_proc < 1:
            raise ValueError(f"num_proc must be >= 1, got {self.num_proc}")
        if self.augment < 0:
            raise ValueError(f"augment must be >= 0, got {self.augment}")
        self.augment_kinds = AugmentOptions(kinds=tuple(self.augment_kinds)).kinds
        if self.calibration is not None:
            self.calibration = Path(self.calibration)
        if self.stage1_cache is not None:
            self.stage1_cache = Path(self.stage1_cache)
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        self.limits = self.plausibility().changed()  # validated, as numbers
        if self.real_imu:
            given = [f"{k}={v!r}" for k, v in self.simulation_options().items()
                     if v != _SIMULATION_DEFAULTS[k]]
            if given:  # ignored (and not recorded), with a warning
                warnings.warn(f"{', '.join(given)} ignored: simulation options do not apply to the "
                              f"real-IMU source {self.source!r} (its rows are recorded, not "
                              "simulated; its own rate is --source-option rate_hz=...)",
                              RuntimeWarning, stacklevel=3)

    @property
    def real_imu(self) -> bool:
        return self.source in REAL_IMU_SOURCES

    def plausibility(self) -> Limits:
        """The plausibility limits of this build."""
        return Limits.from_strings(self.limits)

    def simulation_options(self) -> dict[str, Any]:
        """The options that only skeleton (simulated) sources use."""
        return {k: getattr(self, k) for k in _SIMULATION_DEFAULTS}

    def recorded(self) -> dict[str, Any]:
        """The options as written into meta/info.json (paths as given, no machine specifics).

        Real-IMU configs list no simulation option: none applies to them.
        """
        d = asdict(self)
        d.update(input_dir=self.input_dir.name,
                 calibration=None if self.calibration is None else self.calibration.name)
        for machine_specific in ("num_proc", "output_dir", "engine", "ray", "staging_dir",
                                 "teacher_cache", "stage1_cache"):
            del d[machine_specific]
        if self.source not in VIDEO_SOURCES:
            del d["stage1"]
        if self.real_imu:
            for k in _SIMULATION_DEFAULTS:
                del d[k]
        if not d["limits"]:
            del d["limits"]
        return d

    def row_key(self, calibration_sha256: str | None) -> dict[str, Any]:
        """Everything besides the inputs' bytes that determines the rows (the resume record)."""
        key = self.recorded()
        del key["input_dir"], key["chunk_inputs"]  # the folder may move; chunking is checked apart
        if not self.real_imu:
            source = get_source(self.source)
            key["cutoff_hz"] = self.cutoff_hz or getattr(source, "CUTOFF_HZ", None) or "auto"
            key["calibration"] = calibration_sha256
            key["simulator_version"] = SIMULATOR_VERSION
        key["imu2safety_version"] = __version__
        key["codebase_version"] = CODEBASE_VERSION
        return key


#: The simulation options and their defaults (``BuildOptions`` fields).
_SIMULATION_DEFAULTS: dict[str, Any] = {"rate_hz": 50.0, "placement": "left_wrist", "device": "ideal",
                                        "seed": 0, "calibration": None, "cutoff_hz": None,
                                        "augment": 0, "augment_kinds": ("jitter", "mirror")}


@dataclass
class BuildResult:
    report: dict
    seconds: float
    clips_per_s: float
    input_mb_per_s: float


# ---- worker side (state set once per process) ----

_STATE: dict[str, Any] = {}


def _init_worker(options: BuildOptions) -> None:
    cal = None
    if options.calibration:
        from ..simulator.calibration import Calibration

        cal = Calibration.load(options.calibration)
    source = get_source(options.source)
    cutoff = options.cutoff_hz or getattr(source, "CUTOFF_HZ", None) or "auto"
    limits = options.plausibility()
    use_limits(limits)  # the file readers' size checks
    _STATE["options"] = options
    _STATE["source"] = source
    _STATE["sim"] = SimulationOptions(placement=options.placement, rate_hz=options.rate_hz,
                                      device=options.device, seed=options.seed, calibration=cal,
                                      cutoff_hz=cutoff, limits=limits)
    # The provenance JSON of every synthetic row (it hashes the whole calibration): made once.
    _STATE["sim_json"] = json.dumps(_STATE["sim"].to_dict(), sort_keys=True)
    # Per-label maps (``Calibration.by_label``): the simulator knows no labels, so it runs with
    # the mounting rotation only and each clip's label's maps follow (``_label_maps``).
    _STATE["label_cal"] = None
    if cal is not None and cal.by_label:
        _STATE["label_cal"] = (cal, label_key(cal), Calibration(mounting=cal.mounting))
    _STATE.pop("stage1", None)
    if options.source in VIDEO_SOURCES:  # models load on the first video, once per process
        from .sources.video import Stage1Runner

        _STATE["stage1"] = Stage1Runner(options.stage1, options.stage1_cache or default_stage1_cache())


def ensure_worker(options: BuildOptions) -> None:
    """Set this process's worker state for ``options`` unless it already is (engines call it)."""
    if _STATE.get("options") != options:
        _init_worker(options)


def _row(clip: Clip, imu: np.ndarray, rate: float, synthetic: bool, notes: list[str],
         info: dict | None = None) -> dict:
    label = clip.resolved_label()
    sim: SimulationOptions = _STATE["sim"]
    extra = dict(clip.extra)
    if notes:
        extra["repairs"] = notes
    if info:  # per-clip simulation choices, e.g. where the forearm twist came from
        extra["simulation"] = info
    return {
        "id": clip.id, "source": clip.source, "subject": clip.subject,
        "source_label": clip.source_label, "activity": label.activity,
        "hazard": label.hazard, "safe": label.safe, "synthetic": synthetic,
        "placement": sim.placement if synthetic else (clip.placement or "unknown"),
        "device": sim.device if synthetic else (clip.device or "unknown"),
        "sample_rate_hz": float(rate), "imu": imu.astype(np.float32),
        "simulator_version": SIMULATOR_VERSION if synthetic else "",
        "options": _STATE["sim_json"] if synthetic else "{}",
        "seed": int(sim.seed) if synthetic else 0,
        "extra": json.dumps(extra, sort_keys=True, default=str),
        "instructions": [], "split": clip.split,
    }


def label_key(cal) -> str:
    """The row column a per-label calibration keys its maps on (``metadata["label_key"]``)."""
    from .calibrate import LABEL_KEYS

    key = cal.metadata.get("label_key", "source_label")
    if key not in LABEL_KEYS:
        raise ValueError(f"the calibration's per-label maps are keyed on {key!r}; a build knows "
                         f"{', '.join(LABEL_KEYS)}: refit it with imu2safety calibrate --per-label")
    return key


def _running(opts: SimulationOptions) -> SimulationOptions:
    """The options the simulator runs with: without the maps when they are applied per label."""
    lc = _STATE["label_cal"]
    return opts if lc is None else replace(opts, calibration=lc[2])


def _label_maps(clip: Clip, imu: np.ndarray, info: dict) -> tuple[np.ndarray, dict] | str:
    """A simulated (N, 6) IMU with the maps of the clip's label applied last (after the device
    model, as the simulator applies a calibration's maps) and the simulation info saying whose
    maps they were; or the reason the result is unusable. Unchanged without per-label maps."""
    lc = _STATE["label_cal"]
    if lc is None:
        return imu, info
    cal, key, _ = lc
    label = clip.source_label if key == "source_label" else clip.resolved_label().activity
    a, g = cal.for_label(label).map_quantiles(imu[:, :3], imu[:, 3:])
    out = np.concatenate([a, g], axis=1)
    if not np.isfinite(out).all():
        return (f"clip {clip.id!r}: the calibration's maps for {key} {label!r} produced non-finite "
                "values")
    return out, {**info, "calibration_maps": {"label_key": key, "label": label,
                                              "maps": "own" if label in cal.by_label else "pooled"}}


def _read_input(path: Path, data: bytes | None = None) -> list[Clip | Skip]:
    """Clips and Skips of one input; ``data``: its bytes, for sources that parse bytes."""
    opts: BuildOptions = _STATE["options"]
    kwargs = {"data": data} if data is not None else {}
    if "stage1" in _STATE:  # video sources: Stage 1 runs inside the reader
        kwargs.update(input_dir=opts.input_dir, stage1=_STATE["stage1"])
    try:
        items = list(_STATE["source"].read(path, **kwargs, **opts.source_options))
    except Exception as err:  # a reader bug must not stop the build: report it as a skip
        logger.exception("reader failed on %s", path)
        items = [Skip(str(path), f"reader error: {type(err).__name__}: {err}")]
    out: list[Clip | Skip] = []
    for item in items:
        if isinstance(item, Clip) and item.resolved_label() is None:
            item = Skip(f"{path}#{item.id}", f"unmapped label {item.source_label!r}")
        out.append(item)
    return out or [Skip(str(path), "the file holds no clip")]


def _simulate_clips(clips: list[Clip]) -> list[tuple[np.ndarray, list[str], dict] | str]:
    """IMU (N, 6), repair notes and simulation info per skeleton clip, or the reason it cannot be
    simulated."""
    def run(batch: list[Clip]) -> list:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # repairs come back as each recording's notes
            return simulate_many([c.motion for c in batch], _running(_STATE["sim"]),
                                 [c.id for c in batch], errors="return")

    try:
        recs = run(clips)
    except Exception:  # not a MotionError: a bug or an input no check foresaw; find the clip
        logger.exception("simulation of a chunk failed; retrying clip by clip")
        recs = []
        for clip in clips:
            try:
                recs += run([clip])
            except Exception as err:
                recs.append(f"{type(err).__name__}: {err}")
    out: list = []
    for clip, r in zip(clips, recs):
        if not isinstance(r, ImuRecording):
            out.append(f"unusable motion: {r}")
        elif isinstance(mapped := _label_maps(clip, r.as_array(), r.info), str):
            out.append(f"unusable motion: {mapped}")
        else:
            out.append((mapped[0], r.notes, mapped[1]))
    return out


def _augmented_rows(clip: Clip) -> list[dict | Skip]:
    """The ``augment`` extra rows of one skeleton clip (see BuildOptions.augment)."""
    sim: SimulationOptions = _STATE["sim"]
    aug = AugmentOptions(kinds=_STATE["options"].augment_kinds)
    out: list[dict | Skip] = []
    for k in range(1, _STATE["options"].augment + 1):
        aug_id = f"{clip.id}~aug{k}"
        motion, opts, gain_seed, applied = augmented_copy(clip.motion, sim, aug, k, clip.id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = simulate_many([motion], _running(opts), [aug_id], errors="return")[0]
        if not isinstance(rec, ImuRecording):
            out.append(Skip(aug_id, f"unusable motion: {rec}"))
            continue
        mapped = _label_maps(clip, rec.as_array(), rec.info)
        if isinstance(mapped, str):
            out.append(Skip(aug_id, f"unusable motion: {mapped}"))
            continue
        imu = apply_output(mapped[0], gain_seed, aug)
        row = _row(replace(clip, id=aug_id), imu, sim.rate_hz, True, rec.notes, mapped[1])
        row["options"] = json.dumps(opts.to_dict(), sort_keys=True)
        row["device"] = opts.device
        extra = json.loads(row["extra"])
        extra["augmentation"] = {"of": clip.id, "mirrored": False, **applied}
        row["extra"] = json.dumps(extra, sort_keys=True)
        out.append(row)
    return out


def _process_chunk(names_paths: list[tuple[str, Path]]) -> tuple[dict[str, list], dict[str, str]]:
    """(input name -> rows and Skips, input name -> file sha256) for one chunk (in a worker)."""
    return finish_chunk(*read_chunk(names_paths))


def read_chunk(names_paths: list[tuple[str, Path]]) -> tuple[dict[str, list], dict[str, str]]:
    """The first half of a chunk: (input name -> Clips and Skips as read, input name -> sha256).

    For video sources reading runs Stage 1 (the GPU part); engines may run it apart from
    ``finish_chunk``, which simulates.
    """
    digests, results = {}, {}
    for name, path in names_paths:
        if getattr(_STATE["source"], "READS_BYTES", False):  # one read: hashed, then parsed
            try:
                data = _read_file(path)
            except OSError as err:
                digests[name], results[name] = "", [Skip(str(path), f"cannot read file: {err}")]
                continue
            digests[name] = hashlib.sha256(data).hexdigest()
            results[name] = _read_input(path, data)
        else:
            digests[name] = _sha256(path)
            results[name] = _read_input(path)
    return results, digests


def finish_chunk(results: dict[str, list],
                 digests: dict[str, str]) -> tuple[dict[str, list], dict[str, str]]:
    """The second half: Clips of ``read_chunk`` -> rows (simulated or recorded) and Skips."""
    pending: list[tuple[str, int, Clip]] = []
    for name in results:
        for k, item in enumerate(results[name]):
            if isinstance(item, Clip) and item.motion is not None:
                pending.append((name, k, item))
    simulated = _simulate_clips([c for _, _, c in pending]) if pending else []
    for (name, k, clip), res in zip(pending, simulated):
        if isinstance(res, str):
            results[name][k] = Skip(f"{name}#{clip.id}", res)
        else:
            imu, notes, info = res
            results[name][k] = _row(clip, imu, _STATE["sim"].rate_hz, True, notes, info)
            if _STATE["options"].augment:
                results[name].extend(_augmented_rows(clip))
    for name, items in results.items():
        for k, item in enumerate(items):
            if isinstance(item, Clip):  # real IMU recording
                imu = np.asarray(item.imu, dtype=np.float64)
                if imu.ndim != 2 or imu.shape[1] != 6 or len(imu) < 2:
                    items[k] = Skip(f"{name}#{item.id}", f"IMU of shape {imu.shape}; need (N>=2, 6)")
                elif not np.isfinite(imu).all():
                    items[k] = Skip(f"{name}#{item.id}", "IMU holds NaN or Inf")
                elif (problem := imu_problem(imu[:, :3], imu[:, 3:], _STATE["sim"].limits)):
                    items[k] = Skip(f"{name}#{item.id}", problem)
                else:
                    items[k] = _row(item, imu, float(item.sample_rate_hz), False, [])
        for k, item in enumerate(items):
            if isinstance(item, dict) and not np.isfinite(item["imu"]).all():
                items[k] = Skip(f"{name}#{item['id']}", "IMU became non-finite in float32")
            elif isinstance(item, dict):  # from the float32 samples the row stores
                item["facts"] = compute_facts(item["imu"], item["sample_rate_hz"])
    return results, digests


#: This process's read buffer (``_read_file``) and the largest file it is kept for.
_BUFFER = bytearray()
_BUFFER_MAX = 16 << 20


def _read_file(path: Path) -> bytes | memoryview:
    """The bytes of ``path``: a view of this process's read buffer, valid until the next call
    (no fresh object, and no fresh pages, per input: 0.07 ms of a 0.7-MB NTU file), or bytes of
    their own for a file above ``_BUFFER_MAX``."""
    global _BUFFER
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if size >= _BUFFER_MAX:
            return f.read()
        if len(_BUFFER) <= size:
            _BUFFER = bytearray(min(_BUFFER_MAX, max(size + 1, 2 * len(_BUFFER))))
        view = memoryview(_BUFFER)
        n = 0
        while (got := f.readinto(view[n:])):  # (until the end; a short read is not the end)
            n += got
            if n == len(view):  # the file grew since its size was read
                return bytes(view) + f.read()
        return view[:n]


def _sha256(path: Path) -> str:
    """sha256 of a file; of a folder (frame images), over its files' names and digests; "missing"
    for an input that does not exist (an annotated video never downloaded: a skip)."""
    if path.is_dir():
        h = hashlib.sha256()
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(f"{p.relative_to(path).as_posix()}\0{_sha256(p)}\n".encode())
        return h.hexdigest()
    if not path.exists():
        return "missing"
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def default_stage1_cache() -> Path:
    """``$XDG_CACHE_HOME/imu2safety/stage1`` (``~/.cache/imu2safety/stage1``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "imu2safety" / "stage1"


def _size(path: Path) -> int:
    """Bytes of a file, of a folder's files (frame images), 0 if it is gone; one stat per file."""
    try:
        st = os.stat(path)
    except OSError:
        return 0
    if stat.S_ISDIR(st.st_mode):
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return st.st_size


def inputs_checksum(names_digests: Iterable[tuple[str, str]]) -> dict[str, str]:
    """{"inputs": n, "sha256": digest over (relative name, file sha256) of every input}, from
    (name, sha256) in input order."""
    h = hashlib.sha256()
    n = 0
    for name, digest in names_digests:
        h.update(f"{name}\0{digest}\n".encode())
        n += 1
    return {"inputs": str(n), "sha256": h.hexdigest()}


def _committed_inputs(writer: DatasetWriter, named: list[tuple[str, Path]]
                      ) -> Iterator[tuple[str, Path, str | None]]:
    """(name, path, sha256 recorded at its commit or None) of every committed input, in input
    order (``writer.pending`` checked that each committed chunk holds the same names as now)."""
    for chunk, recorded in writer.committed_digests():
        start = chunk * writer.chunk_inputs
        for (name, digest), (_, path) in zip(recorded, named[start:start + len(recorded)]):
            yield name, path, digest


def _name(input_dir: Path, path: Path) -> str:
    """``path`` relative to ``input_dir`` (posix), or its file name if it lies elsewhere."""
    # (paths are normalised, so a prefix of the string is a prefix of the parts: relative_to's
    # answer without its parsing, ~10 µs per input)
    folder, name = os.fspath(input_dir), os.fspath(path)
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    if folder != "." and name.startswith(prefix) and len(name) > len(prefix):
        return name[len(prefix):].replace(os.sep, "/")
    try:
        return path.relative_to(input_dir).as_posix()
    except ValueError:
        return path.name


def _checked_calibration(options: BuildOptions, force: bool) -> dict[str, Any] | None:
    """What a build's report (and its card) records of its calibration, after checking it was
    fitted for this build's options: file, sha256 of its JSON (the rows' key), how it was fitted
    (paired / unpaired / unpaired per label), on which real config and splits; None without one."""
    if options.calibration is None:
        return None
    from ..simulator.calibration import Calibration, check_applies

    if not options.calibration.is_file():
        raise FileNotFoundError(f"calibration file {options.calibration} does not exist")
    cal = Calibration.load(options.calibration)
    check_applies(cal, options.calibration, placement=options.placement, rate_hz=options.rate_hz,
                  device=options.device, force=force)
    if cal.by_label:
        label_key(cal)  # a key the build can read, checked before any work
    sha256 = hashlib.sha256(json.dumps(cal.to_dict(), sort_keys=True).encode()).hexdigest()
    fitted = cal.metadata.get("fitted_for") or {}
    return {"file": options.calibration.name, "sha256": sha256,
            "pairing": cal.metadata.get("pairing", "paired"),
            "label_key": cal.metadata.get("label_key") if cal.by_label else None,
            "labels_with_own_maps": sorted(cal.by_label),
            "real_config": fitted.get("real_config"), "real_splits": fitted.get("real_splits")}


def _check_committed_inputs(writer: DatasetWriter, named: list[tuple[str, Path]]) -> None:
    """Refuse to resume when an input of a committed chunk changed since it was read."""
    from .dataset.writer import BuildMismatch

    for name, path, digest in _committed_inputs(writer, named):
        if digest is not None and _sha256(path) != digest:
            raise BuildMismatch(
                f"input {name!r} changed since it was built into config {writer.config!r} of "
                f"{writer.output_dir}: add --overwrite to rebuild the config from the current inputs "
                "(other configs are kept)")


def build(options: BuildOptions, repo_id: str | None = None, progress: bool = True,
          overwrite: bool = False, force: bool = False) -> BuildResult:
    """Run one build; returns its report (also written to meta/report_{config}.json).

    A folder that already holds the config continues it only when everything that determines the
    rows is unchanged (``BuildOptions.row_key``, the code versions and every committed input's
    sha256); otherwise BuildMismatch names what differs. ``overwrite`` rebuilds the config from
    scratch (other configs of the folder are kept). ``force`` applies a calibration fitted for
    another placement, rate or device (with a warning) instead of refusing.

    Clip ids are unique in a config: a clip whose id an earlier input (in listing order) already
    wrote is skipped with the reason "duplicate clip id", and the build goes on.
    """
    with build_gc():
        if not is_remote(options.output_dir):
            return _build(options, repo_id, progress, overwrite, force)
        url = str(options.output_dir)
        from .dataset.remote import RemoteFolder, default_staging

        folder = RemoteFolder(url, options.staging_dir or default_staging(url))
        folder.pull()
        result = _build(replace(options, output_dir=folder.staging), repo_id, progress, overwrite,
                        force, after_commit=folder.push)
        folder.push()
        return result


def _build(options: BuildOptions, repo_id: str | None, progress: bool, overwrite: bool = False,
           force: bool = False, after_commit: Callable[[], Any] | None = None) -> BuildResult:
    start = time.perf_counter()
    source = get_source(options.source)
    if not options.input_dir.is_dir():
        raise FileNotFoundError(f"input folder {options.input_dir} does not exist")
    if options.source in VIDEO_SOURCES:  # bad Stage-1 options fail here, before any work
        try:
            from .video.pipeline import Stage1Options
        except ImportError as err:
            raise ValueError(f"source {options.source!r} needs Stage 1 (imu2safety.builders.video."
                             f"pipeline), which could not be imported: {err}") from err
        names = [f.name for f in dataclasses.fields(Stage1Options)]
        unknown = sorted(set(options.stage1) - set(names))
        if unknown:
            raise ValueError(f"unknown Stage-1 option(s) {unknown}; valid: {names}")
        Stage1Options(**options.stage1)
    calibration = _checked_calibration(options, force)
    cal_sha = None if calibration is None else calibration["sha256"]
    # One pool of workers (num_proc > 1, local engine) for the chunks and then the instruction
    # pass, started now: the workers' start-up (imports, compiled kernels), paid once, overlaps
    # the driver's own (listing the inputs, the writer and its imports).
    with contextlib.ExitStack() as stack:
        pool = _LazyPool(options.num_proc if options.engine == "local" else 1, options, stack)
        pool.get()
        paths = list(source.list_inputs(options.input_dir, **options.source_options))
        if not paths:
            raise ValueError(f"no {options.source} input files found under {options.input_dir}")
        named = [(_name(options.input_dir, p), p) for p in paths]
        from .dataset.writer import DatasetWriter

        # The instruction pass rewrites every shard (compressed): the chunks' shards are not,
        # except where each commit is uploaded at once (a remote output folder)
        writer = DatasetWriter(options.output_dir, options.source, options.chunk_inputs,
                               build_key=options.row_key(cal_sha), overwrite=overwrite,
                               compression="zstd" if after_commit else "none")
        todo = list(writer.pending(named))
        done_before = len(writer.completed_chunks())
        seen = _SeenIds([n for n, _ in named], writer.chunk_inputs)
        if done_before:
            logger.info("resuming: %d chunk(s) already committed", done_before)
            _check_committed_inputs(writer, named)
            for ids in writer.committed_ids():
                seen.add(ids, [-1] * len(ids))  # (-1: written by an earlier run)
        chunk_of, n_bytes = dict(todo), 0
        bar = tqdm(total=sum(len(chunk) for _, chunk in todo), unit="input",
                   desc=f"build {options.source}", disable=not progress)
        n_rows = 0
        if options.engine == "ray":
            from .engine_ray import ray_chunks

            stream = ray_chunks(options, todo)
        else:
            stream = _local_chunks(options, todo, pool)
        for k, processed in stream:  # in input order, whatever the engine
            n_rows = _commit(writer, k, processed, seen, bar, n_rows)
            n_bytes += sum(_size(p) for _, p in chunk_of[k])  # (while the workers run)
            if after_commit:
                after_commit()
        bar.close()
        # (inputs committed by an older imu2safety have no digest recorded: hashed now)
        checksums = inputs_checksum((name, digest if digest is not None else _sha256(path))
                                    for name, path, digest in _committed_inputs(writer, named))
        writer.extra_report["instructions"] = _finish_instructions(options, progress, pool)
    if calibration is not None:  # the report and the card say what the synthetic rows were fitted to
        writer.extra_report["calibration"] = calibration
    writer.finalize(build_options=options.recorded(),
                    source_checksums=checksums,
                    simulator_version="" if options.real_imu else SIMULATOR_VERSION,
                    license=getattr(source, "LICENSE", ""), citation=getattr(source, "CITATION", ""),
                    repo_id=repo_id)
    seconds = time.perf_counter() - start
    return BuildResult(writer.report(), seconds, n_rows / seconds if seconds else 0.0,
                       n_bytes / 1e6 / seconds if seconds else 0.0)


class _LazyPool:
    """The build's worker pool (``pool.worker_pool``), started on the first ``get``; None for one
    process."""

    def __init__(self, num_proc: int, options: BuildOptions, stack: contextlib.ExitStack) -> None:
        self.num_proc, self.options, self.stack, self.pool = num_proc, options, stack, None

    def get(self):
        if self.num_proc > 1 and self.pool is None:
            self.pool = self.stack.enter_context(worker_pool(self.num_proc, _init_worker, (self.options,)))
        return self.pool


def _finish_instructions(options: BuildOptions, progress: bool, pool: _LazyPool | None = None) -> dict:
    """The instruction finishing pass over the whole config (``instructions.pairs``), on the
    build's worker pool when it has one."""
    from .instructions.pairs import add_instructions

    teacher = None
    if options.instructions and options.teacher != "none":
        from .instructions.teachers import make_teacher

        cache = options.teacher_cache or options.output_dir / "cache" / "teacher"
        teacher = make_teacher(options.teacher, model=options.teacher_model, cache_dir=cache,
                               key_env=options.teacher_key_env)
    return add_instructions(options.output_dir, options.source, seed=options.seed,
                            enabled=options.instructions, teacher=teacher, progress=progress,
                            num_proc=options.num_proc,
                            pool=pool.get if pool is not None and pool.num_proc > 1 else None)


def _local_chunks(options: BuildOptions, todo: list, pool: _LazyPool | None = None
                  ) -> Iterator[tuple[int, Any]]:
    """(chunk index, processed chunk) in input order, on this machine's ``num_proc`` processes
    (the workers of ``pool``, else a pool of its own)."""
    if options.num_proc == 1:
        _init_worker(options)
        for k, chunk in todo:
            yield k, _process_chunk(list(chunk))
        return
    if not todo:
        return
    with contextlib.ExitStack() as stack:
        workers = (pool or _LazyPool(options.num_proc, options, stack)).get()
        # At most 2 chunks per worker in flight, committed in input order: memory stays
        # bounded however large the source, and the workers never wait for a window.
        pending: deque = deque()
        for k, chunk in todo:
            pending.append((k, workers.apply_async(_process_chunk, (list(chunk),))))
            if len(pending) >= 2 * options.num_proc:
                k0, res = pending.popleft()
                yield k0, res.get()
        while pending:
            k0, res = pending.popleft()
            yield k0, res.get()


class _SeenIds:
    """The clip ids written so far and the input each came from, compact (``keyset.KeySet``: 24
    bytes an id), so that the driver's memory does not grow like a dict of every id.

    names: every input's name in input order; chunk_inputs: inputs per chunk (a chunk's inputs are
    ``names[chunk * chunk_inputs:]``, in order).
    """

    def __init__(self, names: list[str], chunk_inputs: int) -> None:
        self.keys, self.names, self.chunk_inputs = KeySet(), names, chunk_inputs

    def add(self, ids: list[str], inputs: list[int]) -> list[str | None]:
        """Record ``ids`` written from ``inputs`` (indices into ``names``; -1: an earlier run);
        returns per id the input that wrote it first (this batch's first included), or None."""
        firsts = self.keys.add([key(i) for i in ids], inputs)
        return [None if f is None else "an earlier run" if f < 0 else self.names[f] for f in firsts]


def _drop_duplicates(chunk: int, results: dict[str, list], seen: _SeenIds) -> None:
    """Turn rows whose clip id an earlier input wrote into Skips (in place); record the others."""
    where, ids, inputs = [], [], []
    for j, (name, items) in enumerate(results.items()):
        for k, item in enumerate(items):
            if isinstance(item, dict):
                where.append((name, k))
                ids.append(item["id"])
                inputs.append(chunk * seen.chunk_inputs + j)
    for (name, k), cid, first in zip(where, ids, seen.add(ids, inputs)):
        if first is not None:
            results[name][k] = Skip(f"{name}#{cid}", f"duplicate clip id {cid!r}: already written "
                                                     f"from input {first!r}")


def _commit(writer: DatasetWriter, chunk: int, processed, seen: _SeenIds, bar, n_rows: int) -> int:
    """Commit one processed chunk; returns the clips written so far (shown on the bar)."""
    results, chunk_digests = processed
    _drop_duplicates(chunk, results, seen)
    record = writer.write_chunk(chunk, results, digests=chunk_digests)
    n_rows += sum(record.rows.values())
    bar.set_postfix(clips=n_rows, refresh=False)
    bar.update(len(results))
    return n_rows


#: Parts of a skip reason that vary from clip to clip: quoted names, file names, numbers.
_VARYING = [(re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),
            (re.compile(r"\S+\.(?:csv|mat|npz|bvh|skeleton|h5|json)\b", re.I), "FILE"),
            (re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.I), "#")]


def reason_kind(reason: str) -> str:
    """A skip reason with its clip-specific parts (names, numbers) replaced by placeholders."""
    for pattern, placeholder in _VARYING:
        reason = pattern.sub(placeholder, reason)
    return reason


def group_reasons(skip_reasons: dict[str, int]) -> list[tuple[int, str, str]]:
    """(count, reason kind, one example) per kind of reason, most frequent first."""
    groups: dict[str, list] = {}
    for reason, n in sorted(skip_reasons.items()):
        g = groups.setdefault(reason_kind(reason), [0, reason])
        g[0] += n
    return sorted(((n, kind, example) for kind, (n, example) in groups.items()),
                  key=lambda x: (-x[0], x[1]))


def format_report(report: dict) -> str:
    """Human-readable build report: inputs = written + skipped, reasons (grouped), class counts."""
    lines = [f"config {report['config']}: {report['inputs']} inputs = {report['inputs_written']} "
             f"written + {report['inputs_skipped']} skipped"]
    lines.append("rows per split: " + ", ".join(f"{s} {n}" for s, n in report["rows"].items()))
    for split, counts in report["class_counts"].items():
        lines.append(f"  {split}: " + ", ".join(f"{h} {n}" for h, n in counts.items()))
    ins = report.get("instructions")
    if ins and ins.get("enabled"):
        lines.append("instruction pairs: " + ", ".join(f"{k} {n}" for k, n in ins["pairs"].items())
                     + f"; dropped by the checker {sum(ins['dropped_by_checker'].values())}, "
                     f"duplicates {ins['duplicates_dropped']}"
                     + "".join(f", teacher {k} {n}" for k, n in ins["teacher"].items()))
    cal = report.get("calibration")
    if cal:
        lines.append(f"calibration {cal['file']}: {cal['pairing']}"
                     + (f", own maps for {len(cal['labels_with_own_maps'])} {cal['label_key']} "
                        "labels" if cal.get("label_key") else ""))
    if report["skip_reasons"]:
        lines.append("skips (clips or inputs) by reason (# and '…' stand for numbers and names; "
                     "every skip is in meta/report_<config>.json):")
        for n, kind, example in group_reasons(report["skip_reasons"]):
            line = f"  {n:6d}  {kind}"
            if kind != example:
                line += f"  (e.g. {example})"
            lines.append(line)
    return "\n".join(lines)
