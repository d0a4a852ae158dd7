"""End-to-end build throughput on a synthetic NTU RGB+D corpus, extrapolated to NTU-120.

A corpus of ``--files`` ``.skeleton`` files in NTU's exact text format (see ``builders/sources/ntu.py``:
frame count; per frame the body count; per body a 10-value body line, "25", and 25 lines of 12
values x y z depthX depthY colorX colorY orientationW..Z trackingState; CRLF line ends, numbers
printed as float32 like the Kinect SDK's) is written to a temp folder (not timed). Clips last
60-300 frames (uniform, ``--frames``); 5 % of joints are inferred (trackingState 1) and 0.5 %
not tracked (0, ``--untracked``); mutual actions (A050-A060, A106-A120) hold two bodies, 10 % of
the others a short-lived ghost body; names ``SsssCcccPpppRrrrAaaa`` spread over setups 1-32,
cameras 1-3, performers 1-106, replications 1-2 and actions 1-120. Then:

1. parse alone: ``ntu.read`` over every file, one process -> files/s and MB/s;
2. simulate alone, as the builder does it (``simulate_many(errors="return")`` per chunk of 256
   files, with the build's own simulation options, its cutoff included), one process;
3. the real build end to end, once per ``--num-proc`` value: ``build(BuildOptions(source="ntu",
   ..., num_proc=N))`` -> wall time, CPU seconds of all its processes per file, clips/s, input
   MB/s, and the time NTU-120's 114,480 samples would take at that rate (the finalize step,
   figures and card, counted once; target <= 3 min).

   Each build also prints its CPU-ms per file by phase (the driver's phases only when workers do
   the rest), and is run again in a fresh Python process, as ``imu2safety build`` runs it: the
   in-process build finds the imports and compiled kernels already loaded by steps 1-2, the
   fresh one pays them (and its workers' start-up) like a user does. The fresh build runs on the
   first half of the corpus too: the difference gives the CPU and wall time per added file and the
   fixed cost (start-up, imports, worker start, finalizing) apart, the honest extrapolation to
   NTU-120, and the peak RSS at both sizes shows whether memory grows with the corpus.

   The first build's dataset also times the instruction pass alone (``add_instructions``, one
   process), with ``--previous-instructions COMMIT`` side by side with the pass as it was at
   COMMIT, on copies of the same dataset, and checks that both write the same bytes.
4. ``--link-to 114480``: a full-size build, in fresh processes, of 114,480 NTU-named hard links
   to the files written (clip ids come from the names): real wall time and memory at NTU-120's
   size without its disk space (about 70 GB as synthetic files).

1 and 2 are CPU seconds of this process (on a shared machine steadier than wall time); the
builds give both. The machine's load average is printed at the start and the end: timings on a
shared machine move by 10-30 % between runs (far more under heavy load); compare within a run.

    python benchmarks/build_speed.py [--files 2000] [--frames 60 300] [--untracked 0.005]
        [--num-proc 1 2] [--no-fresh] [--link-to 114480] [--pin-blas] [--workdir /tmp] [--keep]
        [--previous-reader COMMIT] [--previous-instructions COMMIT]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from imu2safety.builders.sources import ntu
from imu2safety.builders import build as build_module
from imu2safety.builders.build import BuildOptions, RayOptions, build, ensure_worker
from imu2safety.builders.engine_ray import STAGE_TIMES
from imu2safety.builders.dataset.writer import DatasetWriter
from imu2safety.builders.records import Clip
from imu2safety.simulator.imu import SimulationOptions, simulate_many
from imu2safety.simulator.motion import MotionError

NTU120_SAMPLES = 114_480
TARGET_S = 180.0
CHUNK = 256  # BuildOptions.chunk_inputs default

#: Standing pose in Kinect camera space (x to the sensor's left, y up, z depth), metres, relative
#: to the pelvis, in ``ntu.JOINT_NAMES`` order.
_TEMPLATE = np.array([
    [0.00, 0.00, 0.00], [0.00, 0.30, 0.02], [0.00, 0.55, 0.03], [0.00, 0.68, 0.02],     # pelvis..head
    [0.18, 0.47, 0.03], [0.22, 0.20, 0.05], [0.24, -0.05, 0.02], [0.24, -0.12, 0.00],   # left arm
    [-0.18, 0.47, 0.03], [-0.22, 0.20, 0.05], [-0.24, -0.05, 0.02], [-0.24, -0.12, 0.00],
    [0.09, -0.02, 0.00], [0.10, -0.45, 0.02], [0.10, -0.85, 0.05], [0.10, -0.90, -0.05],  # left leg
    [-0.09, -0.02, 0.00], [-0.10, -0.45, 0.02], [-0.10, -0.85, 0.05], [-0.10, -0.90, -0.05],
    [0.00, 0.50, 0.03], [0.24, -0.17, 0.00], [0.21, -0.10, -0.03],                     # tip, thumb
    [-0.24, -0.17, 0.00], [-0.21, -0.10, -0.03],
])
#: Motion amplitude of each joint, metres (arms move most).
_AMPLITUDE = np.array([0.03, 0.03, 0.04, 0.04, 0.05, 0.12, 0.25, 0.27, 0.05, 0.12, 0.25, 0.27,
                       0.03, 0.06, 0.08, 0.08, 0.03, 0.06, 0.08, 0.08, 0.04, 0.28, 0.27, 0.28, 0.27])


def _body(rng: np.random.Generator, num: int, untracked: float) -> tuple[np.ndarray, np.ndarray]:
    """(num, 25, 11) joint values (x .. orientationZ) of one body, (num, 25) int trackingState."""
    t = np.arange(num)[:, None, None] / ntu.FPS
    f = rng.uniform(0.2, 1.5, (3, 25, 3))
    ph = rng.uniform(0, 2 * np.pi, (3, 25, 3))
    wave = np.sin(2 * np.pi * f[:, None] * t[None] + ph[:, None]).sum(axis=0) / np.sqrt(3)
    root = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.1, 0.1), rng.uniform(2.4, 3.6)])
    xyz = root + _TEMPLATE + _AMPLITUDE[:, None] * wave                       # (num, 25, 3)
    depth = np.stack([256 + 365 * xyz[..., 0] / xyz[..., 2], 212 - 365 * xyz[..., 1] / xyz[..., 2]], -1)
    color = np.stack([960 + 1060 * xyz[..., 0] / xyz[..., 2], 540 - 1060 * xyz[..., 1] / xyz[..., 2]], -1)
    quat = rng.standard_normal((num, 25, 4))
    quat /= np.linalg.norm(quat, axis=-1, keepdims=True)
    state = np.where(rng.random((num, 25)) < 0.05, 1, 2)
    state[rng.random((num, 25)) < untracked] = 0
    return np.concatenate([xyz, depth, color, quat], axis=-1), state


def _joint_lines(values: np.ndarray, state: np.ndarray) -> list[bytes]:
    """Joint lines (without line ends), printed by pyarrow as float32 (SDK-like digits)."""
    cols = {f"c{k}": values[:, k].astype(np.float32) for k in range(11)}
    cols["c11"] = state.astype(np.int8)
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(cols), buf, pacsv.WriteOptions(include_header=False, delimiter=" "))
    return buf.getvalue().split(b"\n")[:-1]


def skeleton_file(rng: np.random.Generator, action: int, frames: tuple[int, int] = (60, 300),
                  untracked: float = 0.005, newline: bytes = b"\r\n") -> bytes:
    """Bytes of one ``.skeleton`` file for ``action``: frames uniform in ``frames`` (inclusive);
    bodies, motion and tracking noise from ``rng``."""
    num = int(rng.integers(frames[0], frames[1] + 1))
    spans = [(0, num)]  # frames of each body: [start, stop)
    if action in ntu.MUTUAL_ACTIONS:
        spans.append((0, num))
    elif rng.random() < 0.1:  # a ghost: Kinect re-detects something for a few frames
        start = int(rng.integers(0, num // 2))
        spans.append((start, start + int(rng.integers(5, num // 4))))
    base = 72057594037927936 + int(rng.integers(0, 10**6))  # Kinect body ids look like this
    ids = [str(base + 17 * b) for b in range(len(spans))]
    bodies = [_body(rng, stop - start, untracked) for start, stop in spans]
    records = [(f, b) for f in range(num) for b, (start, stop) in enumerate(spans) if start <= f < stop]
    rec_f, rec_b = np.array(records).T
    vals = np.empty((len(records), 25, 11))
    states = np.empty((len(records), 25), dtype=np.int8)
    for b, (start, _) in enumerate(spans):
        mask = rec_b == b
        vals[mask], states[mask] = bodies[b][0][rec_f[mask] - start], bodies[b][1][rec_f[mask] - start]
    joints = _joint_lines(vals.reshape(-1, 11), states.reshape(-1))
    lines = [str(num).encode()]
    r = 0
    for f in range(num):
        here = [b for ff, b in records[r:r + len(spans)] if ff == f]
        lines.append(str(len(here)).encode())
        for b in here:
            lean = rng.uniform(-0.3, 0.3, 2)
            lines.append(f"{ids[b]} 0 1 1 1 1 0 {lean[0]:.7g} {lean[1]:.7g} 2".encode())
            lines.append(b"25")
            lines.extend(joints[25 * r:25 * r + 25])
            r += 1
    return newline.join(lines) + newline


def write_corpus(folder: Path, files: int, frames: tuple[int, int] = (60, 300),
                 untracked: float = 0.005, seed: int = 0) -> list[Path]:
    """``files`` distinct NTU-named ``.skeleton`` files in ``folder``; returns their paths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    paths = []
    while len(paths) < files:
        setup = int(rng.integers(1, 33))
        action = int(rng.integers(1, 61 if setup <= 17 else 121))
        name = (f"S{setup:03d}C{int(rng.integers(1, 4)):03d}P{int(rng.integers(1, 107)):03d}"
                f"R{int(rng.integers(1, 3)):03d}A{action:03d}")
        if name in names:
            continue
        names.add(name)
        path = folder / f"{name}.skeleton"
        path.write_bytes(skeleton_file(rng, action, frames, untracked))
        paths.append(path)
    return paths


def _previous_source(commit: str, path: str) -> str | None:
    """The text of ``path`` (from the repository root) at ``commit``, or None without the git history."""
    try:
        return subprocess.run(["git", "-C", str(Path(__file__).resolve().parents[1]), "show", f"{commit}:{path}"],
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def _absolute_imports(text: str, package: str, own: str | None = None) -> str:
    """``text`` with its relative imports made absolute for a module of ``package``
    ("imu2safety.builders.sources"); own: the package a single dot names instead (modules loaded
    beside today's)."""
    parts = package.split(".")

    def absolute(m: "re.Match") -> str:
        dots, rest = m.group(2), m.group(3)
        head = own if own and len(dots) == 1 else ".".join(parts[:len(parts) + 1 - len(dots)])
        return f"{m.group(1)}from {head}{'.' + rest if rest else ''} import"

    return re.sub(r"^(\s*)from (\.+)([\w.]+)? import", absolute, text, flags=re.M)


def load_previous_reader(commit: str):
    """``builders/sources/ntu.py`` as it was at ``commit`` (its relative imports resolved against
    today's package), or None without the git history: the reader this round's is timed against."""
    text = _previous_source(commit, "builders/sources/ntu.py")
    if text is None:
        return None
    text = _absolute_imports(text, "imu2safety.builders.sources")
    module = type(sys)(f"previous_ntu_{commit}")
    sys.modules[module.__name__] = module  # (dataclasses look their module up)
    exec(compile(text.replace("cache=True", "cache=False"), f"ntu@{commit}", "exec"), module.__dict__)
    return module


def load_previous_instructions(commit: str):
    """``builders/instructions/{checker,templates,pairs}.py`` as they were at ``commit``, as a
    package of their own beside today's (with today's ``facts``, which the pass only reads; other
    imports resolve against today's too), or None without the git history: the instruction pass
    this round's is timed against."""
    from imu2safety.builders.instructions import facts

    name = f"previous_instructions_{commit}"
    package = type(sys)(name)
    package.__path__ = []
    sys.modules[name] = package
    sys.modules[f"{name}.facts"] = package.facts = facts
    for module in ("checker", "templates", "pairs"):
        text = _previous_source(commit, f"builders/instructions/{module}.py")
        if text is None:
            return None
        loaded = type(sys)(f"{name}.{module}")
        loaded.__package__ = name
        sys.modules[loaded.__name__] = loaded
        exec(compile(_absolute_imports(text, "imu2safety.builders.instructions", own=name),
                     f"{module}@{commit}", "exec"), loaded.__dict__)
        setattr(package, module, loaded)
    return package


#: The checker's and templates' caches keyed by a text or a value (not by a sentence's shape): a
#: build meets each text once, so a repeated run over the same rows must not find them cached.
_TEXT_CACHES = ("_sentences", "_shape", "_value_shape", "_marked_value_shape", "_unvalued_sentences", "_fmt")


def _clear_text_caches(package) -> None:
    for module in (package.checker, package.templates):
        for name in _TEXT_CACHES:
            getattr(getattr(module, name, None), "cache_clear", lambda: None)()


def instruction_pass_alone(dataset: Path, work: Path, files: int, previous: str | None,
                           repeats: int = 7) -> dict:
    """CPU seconds of ``add_instructions`` alone (1 process, seed 0, as the build runs it) on a copy
    of a built dataset, best of ``repeats`` after one untimed run (imports, the checker's plans of
    each sentence shape, which a large build makes once), the caches keyed by texts emptied;
    with ``previous`` (a commit) the pass as it was then, alternating with today's on its own
    copy, and whether both write the same shards and report; then the part without I/O alone (the
    pairs of every row templated and checked)."""
    import imu2safety.builders.instructions as today
    from imu2safety.builders.instructions import checker, pairs, templates  # noqa: F401 (today.*)

    packages = {"now": today}
    if previous:
        loaded = load_previous_instructions(previous)
        if loaded is None:
            print(f"  previous instruction pass: not available (needs the git history with {previous})")
        else:
            packages["previous"] = loaded
    passes = {key: package.pairs.add_instructions for key, package in packages.items()}
    best, reports = {}, {}
    for key, run in passes.items():
        shutil.copytree(dataset, work / f"instructions-{key}")
        reports[key] = run(work / f"instructions-{key}", "ntu", seed=0)
        best[key] = float("inf")
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in (work / "instructions-now" / "data").rglob("*.parquet"))
    for _ in range(repeats):  # alternating: the machine's speed drifts
        for key, run in passes.items():
            _clear_text_caches(packages[key])
            t0 = time.process_time()
            run(work / f"instructions-{key}", "ntu", seed=0)
            best[key] = min(best[key], time.process_time() - t0)
    out = {"rows": rows, "cpu_ms_per_row": 1e3 * best["now"] / rows, "cpu_ms_per_file": 1e3 * best["now"] / files}
    line = (f"instruction pass alone ({rows} rows, 1 process, best of {repeats}"
            f"{', alternating' if len(passes) > 1 else ''}): {out['cpu_ms_per_row']:.3f} CPU-ms per row "
            f"({out['cpu_ms_per_file']:.2f} per file)")
    if "previous" in passes:
        same = same_tree(work / "instructions-now" / "data", work / "instructions-previous" / "data") \
            and reports["now"] == reports["previous"]
        out.update(previous_cpu_ms_per_row=1e3 * best["previous"] / rows, same_output=same)
        line += (f", at {previous} {out['previous_cpu_ms_per_row']:.3f} ({1e3 * best['previous'] / files:.2f} "
                 f"per file): {best['previous'] / best['now']:.2f}x; shards and report "
                 f"{'byte-identical' if same else 'DIFFERENT'}")
    # the part without I/O: every row's pairs templated and checked (pairs._templated), as timed
    modules = {key: package.pairs for key, package in packages.items()}
    tasks = {}
    for key, module in modules.items():
        index = module.RowIndex.read(work / f"instructions-{key}", "ntu")
        tasks[key] = list(module._tasks(index, *module.plan_rows(index, 0)))
    cpu = dict.fromkeys(modules, float("inf"))
    for _ in range(repeats):
        for key, module in modules.items():
            _clear_text_caches(packages[key])
            t0 = time.process_time()
            for task in tasks[key]:
                module._templated(0, task)
            cpu[key] = min(cpu[key], time.process_time() - t0)
    out["pairs_cpu_ms_per_row"] = 1e3 * cpu["now"] / rows
    line += f"\n    of which templating and checking the pairs (no I/O): {out['pairs_cpu_ms_per_row']:.3f} CPU-ms per row"
    if "previous" in cpu:
        out["previous_pairs_cpu_ms_per_row"] = 1e3 * cpu["previous"] / rows
        line += f", at {previous} {out['previous_pairs_cpu_ms_per_row']:.3f}: {cpu['previous'] / cpu['now']:.2f}x"
    for key in passes:
        shutil.rmtree(work / f"instructions-{key}", ignore_errors=True)
    print("  " + line)
    return out


def _same_clips(a: list, b: list) -> bool:
    """Whether two readers' items of one file are the same, arrays byte for byte."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, Clip) != isinstance(y, Clip):
            return False
        if not isinstance(x, Clip):
            if (x.input, x.reason) != (y.input, y.reason):
                return False
            continue
        mx, my = x.motion, y.motion
        if (x.id, x.extra, x.split, x.source_label) != (y.id, y.extra, y.split, y.source_label) or any(
                u.tobytes() != v.tobytes() for u, v in ((mx.positions, my.positions), (mx.valid, my.valid),
                                                         (mx.timestamps, my.timestamps))):
            return False
    return True


def simulate_like_builder(clips: list[Clip], opts: SimulationOptions) -> tuple[int, float]:
    """Simulate as ``build._simulate_clips`` does: one ``simulate_many(errors="return")`` per
    chunk; repairs come back as each clip's notes. Returns (clips simulated, CPU seconds)."""
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recs = simulate_many([c.motion for c in clips], opts, [c.id for c in clips], errors="return")
    return sum(not isinstance(r, MotionError) for r in recs), time.process_time() - start


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


#: Phases of a build timed in this process (CPU s): (name, owner, attribute). With
#: ``--num-proc 1`` every phase runs here; with more, only the driver's (rows, pairs, finalize).
#: read_chunk holds _read_input (the parse); finish_chunk holds the simulation and the facts.
PHASES = [("read_chunk", build_module, "read_chunk"), ("parse", build_module, "_read_input"),
          ("finish_chunk", build_module, "finish_chunk"), ("simulate", build_module, "_simulate_clips"),
          ("facts", build_module, "compute_facts"), ("rows_parquet", build_module, "_commit"),
          ("instruction_pass", build_module, "_finish_instructions"),
          ("finalize", DatasetWriter, "finalize")]


def timed_build(options: BuildOptions) -> dict:
    """The real build, with wall and CPU seconds (this process + its finished workers), the
    seconds of its finalize step (report, info, figures, card), which do not grow with the
    corpus, and the CPU seconds of each of ``PHASES`` run in this process."""
    spent = {"finalize_s": 0.0, "finalize_cpu_s": 0.0}
    phase_cpu = {name: 0.0 for name, _, _ in PHASES}
    originals = [(owner, attr, getattr(owner, attr)) for _, owner, attr in PHASES]

    def timed(name, real):
        def wrapper(*a, **k):
            start, cpu = time.perf_counter(), time.process_time()
            try:
                return real(*a, **k)
            finally:
                phase_cpu[name] += time.process_time() - cpu
                if name == "finalize":
                    spent["finalize_s"] += time.perf_counter() - start
                    spent["finalize_cpu_s"] += time.process_time() - cpu
        return wrapper

    for (name, owner, attr), (_, _, real) in zip(PHASES, originals):
        setattr(owner, attr, timed(name, real))
    cpu0, child0, wall0 = time.process_time(), _children_cpu_s(), time.perf_counter()
    try:
        res = build(options, progress=False)
    finally:
        for owner, attr, real in originals:
            setattr(owner, attr, real)
    return {"result": res, "wall_s": time.perf_counter() - wall0,
            "cpu_s": time.process_time() - cpu0 + _children_cpu_s() - child0,
            "phase_cpu_s": phase_cpu, **spent}


#: A build in a fresh interpreter, as ``imu2safety build`` runs one: imports, the workers' start
#: and the compiled kernels' loading are in its time (argv[1]: BuildOptions keywords as JSON). It
#: prints its rows and the peak RSS (KiB) of itself and of its largest worker.
_FRESH_BUILD = """
import json, resource, sys, time
from imu2safety.builders import build as B
from imu2safety.builders.dataset.writer import DatasetWriter
marks = {}
def mark(name, owner, attr):  # wall time at which a phase begins
    real = getattr(owner, attr)
    def wrapper(*a, **k):
        marks.setdefault(name, time.perf_counter())
        return real(*a, **k)
    setattr(owner, attr, wrapper)
mark("chunks", B, "_local_chunks"); mark("instructions", B, "_finish_instructions")
mark("finalize", DatasetWriter, "finalize")
t0 = time.perf_counter()
res = B.build(B.BuildOptions(**json.loads(sys.argv[1])), progress=False)
t1 = time.perf_counter()
at = [marks.get(k, t1) for k in ("chunks", "instructions", "finalize")]
print("PHASES", at[0] - t0, at[1] - at[0], at[2] - at[1], t1 - at[2])
print("ROWS", sum(res.report["rows"].values()), "RSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def fresh_build(**options: Any) -> dict:
    """Wall and CPU seconds (the process and its workers) of a build in a new Python process, its
    rows, and the peak RSS (MiB) of the process and of its largest worker."""
    cpu0, wall0 = _children_cpu_s(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _FRESH_BUILD, json.dumps(options, default=str)],
                          capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall0, _children_cpu_s() - cpu0
    if proc.returncode != 0:
        raise RuntimeError(f"fresh build failed: {proc.stderr[-2000:]}")
    words = proc.stdout.split("ROWS")[-1].split()
    phases = [float(x) for x in proc.stdout.split("PHASES")[-1].split()[:4]]
    return {"wall_s": wall, "cpu_s": cpu, "rows": int(words[0]), "main_rss_mb": int(words[2]) / 1024,
            "worker_rss_mb": int(words[3]) / 1024,
            "phases_s": dict(zip(("start-up", "chunks", "instruction pass", "finalize"), phases))}


def link_corpus(paths: list[Path], folder: Path, files: int, seed: int = 1) -> int:
    """``files`` hard links in ``folder`` to ``paths`` in turn, each under its own NTU name with
    the action of the file it links (clip ids come from the names, so every link is its own
    clip); returns the number of distinct files behind them. A full-size corpus on a small disk."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names: set[str] = set()
    for k in range(files):
        src = paths[k % len(paths)]
        action = src.name[17:20]
        while True:
            name = (f"S{int(rng.integers(1, 33)):03d}C{int(rng.integers(1, 4)):03d}"
                    f"P{int(rng.integers(1, 107)):03d}R{int(rng.integers(1, 3)):03d}A{action}")
            if name not in names:
                break
        names.add(name)
        os.link(src, folder / f"{name}.skeleton")
    return min(files, len(paths))


def scaling(small: dict, large: dict, n_small: int, n_large: int) -> dict:
    """Fixed and per-file cost from two fresh builds of ``n_small`` < ``n_large`` files: per file
    = the difference / the files added; fixed = what remains (start-up, imports, worker start,
    finalizing); NTU-120's wall time = fixed + 114,480 x the wall per file."""
    added = n_large - n_small
    out = {}
    for key in ("wall_s", "cpu_s"):
        per = (large[key] - small[key]) / added
        out[key.replace("_s", "_ms_per_file")] = 1e3 * per
        out[key.replace("_s", "_fixed_s")] = large[key] - n_large * per
    # a per-file cost the noise of a shared machine swamps (wall or CPU not growing with the
    # corpus) gives no extrapolation: NaN, printed as "n/a", rather than a negative time
    ok = out["wall_ms_per_file"] > 0 and out["cpu_ms_per_file"] > 0
    out["ntu120_s"] = (out["wall_fixed_s"] + NTU120_SAMPLES * out["wall_ms_per_file"] / 1e3
                       if ok else float("nan"))
    return out


def phase_line(phase_cpu: dict[str, float], files: int, here_only: bool) -> str:
    """CPU-ms per file of each phase (the nested ones taken out of their parents)."""
    ms = {k: 1e3 * v / files for k, v in phase_cpu.items()}
    parts = {"rows + Parquet shards (driver)": ms["rows_parquet"],
             "instruction pass (driver)": ms["instruction_pass"], "finalize": ms["finalize"]}
    if not here_only:
        parts = {"read + sha256": ms["read_chunk"] - ms["parse"], "parse (ntu.read)": ms["parse"],
                 "simulate": ms["simulate"], "facts": ms["facts"],
                 "rows (build._row)": ms["finish_chunk"] - ms["simulate"] - ms["facts"], **parts}
    return ", ".join(f"{k} {v:.2f}" for k, v in parts.items())


def same_tree(a: Path, b: Path) -> bool:
    """True when both folders hold the same files with the same bytes."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and all(
        (a / f).read_bytes() == (b / f).read_bytes() for f in files)


def main(argv: list[str] | None = None) -> dict:
    """Write the corpus, run the timings, print them; returns the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=2000, help="skeleton files (default 2000)")
    p.add_argument("--frames", type=int, nargs=2, default=(60, 300), metavar=("MIN", "MAX"),
                   help="frames per file, uniform (default 60 300)")
    p.add_argument("--untracked", type=float, default=0.005,
                   help="share of joints written with trackingState 0 (default 0.005)")
    p.add_argument("--num-proc", type=int, nargs="+", default=[1, 2],
                   help="worker processes of the builds timed, one build each (default 1 2)")
    p.add_argument("--device", default="ideal", help="device profile of the build (default ideal)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="ray: also build through the Ray engine (a local Ray instance with the "
                        "largest --num-proc CPUs) and compare it with the local engine's build")
    p.add_argument("--no-fresh", dest="fresh", action="store_false",
                   help="do not time each build again in a fresh process (as the CLI runs it)")
    p.add_argument("--pin-blas", action="store_true",
                   help="set OMP/OPENBLAS/MKL_NUM_THREADS=1 for the build's worker processes")
    p.add_argument("--link-to", type=int, default=0, metavar="N",
                   help="also build, in fresh processes, a corpus of N NTU-named hard links to the "
                        "files written (e.g. 114480: NTU-120's size on a small disk)")
    p.add_argument("--previous-reader", default=None, metavar="COMMIT",
                   help="also time builders/sources/ntu.py as it was at COMMIT against today's, "
                        "side by side on the same files (e.g. afd9d58: before this round's scan)")
    p.add_argument("--previous-instructions", default=None, metavar="COMMIT",
                   help="also time builders/instructions/ (the instruction pass) as it was at COMMIT "
                        "against today's, alone, side by side on the first build's dataset (e.g. "
                        "d551c80: before this round's marked texts)")
    p.add_argument("--workdir", type=Path, default=None, help="parent of the temp folder")
    p.add_argument("--keep", action="store_true", help="keep the corpus and dataset")
    args = p.parse_args(argv)
    if args.files < 1 or min(args.num_proc) < 1:
        p.error("--files and --num-proc must be >= 1")
    if not 8 <= args.frames[0] <= args.frames[1]:
        p.error("--frames needs 8 <= MIN <= MAX")

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="imu2safety-build-speed-", dir=args.workdir))
    try:
        start = time.perf_counter()
        paths = write_corpus(tmp / "nturgbd_skeletons", args.files, tuple(args.frames), args.untracked)
        mb = sum(p.stat().st_size for p in paths) / 1e6
        print("load average of the machine (1, 5, 15 min): " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
              + f" on {os.cpu_count()} CPUs (other work shares them: compare ratios within one run)")
        print(f"wrote {len(paths)} .skeleton files, {mb:.1f} MB ({1e3 * mb / len(paths):.0f} kB "
              f"per file) in {time.perf_counter() - start:.1f} s (not timed) to {tmp}")
        base = dict(source="ntu", input_dir=tmp / "nturgbd_skeletons", device=args.device)

        # 1 + 2: parse, then simulate, chunk by chunk in this process, with the build's options
        ensure_worker(BuildOptions(output_dir=tmp / "unused", **base))
        opts = build_module._STATE["sim"]  # the build's simulation options (cutoff included)
        # once per process: numba loads (or compiles) the scan and simulation kernels; not per file
        t0 = time.process_time()
        simulate_like_builder([c for p in paths[:4] for c in ntu.read(p) if isinstance(c, Clip)], opts)
        out_startup = time.process_time() - t0
        print(f"start-up of a process (compiled kernels loaded from numba's cache or compiled, "
              f"first calls): {out_startup:.2f} CPU-s, not counted below")
        t_parse = t_sim = 0.0
        n_clips = n_sim = n_grids = 0
        for k in range(0, len(paths), CHUNK):
            t0 = time.process_time()
            clips = [c for p in paths[k:k + CHUNK] for c in ntu.read(p) if isinstance(c, Clip)]
            t_parse += time.process_time() - t0
            done, sim_s = simulate_like_builder(clips, opts)
            n_sim, t_sim = n_sim + done, t_sim + sim_s
            n_grids += len({(c.motion.num_frames, float(c.motion.timestamps[0])) for c in clips})
            n_clips += len(clips)
        out = {
            "files": len(paths), "mb": mb, "clips": n_clips, "startup_cpu_s": out_startup,
            "parse_s": t_parse, "parse_files_per_s": len(paths) / t_parse, "parse_mb_per_s": mb / t_parse,
            "parse_cpu_ms_per_file": 1e3 * t_parse / len(paths),
            "simulate_s": t_sim, "simulate_clips_per_s": n_sim / t_sim, "builds": {},
        }
        print(f"\nCPU seconds of this process (steadier than wall time on a shared machine):")
        print(f"parse alone (ntu.read, 1 process): {1e3 * t_parse / len(paths):.2f} CPU-ms per file, "
              f"{out['parse_files_per_s']:.0f} files/s, {out['parse_mb_per_s']:.1f} MB/s")
        # the text parse alone: the compiled byte scan against the general parser it replaced
        sample = [p.read_bytes() for p in paths[:min(len(paths), 200)]]
        t0 = time.process_time()
        for data in sample:
            ntu.parse_skeleton(data.decode("latin-1"))
        t_text = time.process_time() - t0
        t0 = time.process_time()
        for data in sample:
            ntu.parse_skeleton_bytes(data)
        t_bytes = time.process_time() - t0
        out.update(parse_text_ms=1e3 * t_text / len(sample), parse_bytes_ms=1e3 * t_bytes / len(sample))
        print(f"  of which the text parse ({len(sample)} files): compiled byte scan "
              f"{out['parse_bytes_ms']:.2f} CPU-ms per file, previous parser (parse_skeleton: lines, "
              f"pyarrow CSV) {out['parse_text_ms']:.2f}: {t_text / t_bytes:.1f}x")
        if args.previous_reader:
            prev = load_previous_reader(args.previous_reader)
            if prev is None:
                print(f"  previous reader: not available (needs the git history with {args.previous_reader})")
            else:
                named = list(zip(paths[:len(sample)], sample))
                same = all(_same_clips(list(ntu.read(q, data=d)), list(prev.read(q, data=d))) for q, d in named)
                best = {"now": float("inf"), "previous": float("inf")}
                for _ in range(5):  # alternating, best of 5: the machine's speed drifts
                    for key, reader in (("now", ntu), ("previous", prev)):
                        t0 = time.process_time()
                        for q, d in named:
                            list(reader.read(q, data=d))
                        best[key] = min(best[key], time.process_time() - t0)
                out.update(read_now_ms=1e3 * best["now"] / len(named),
                           read_previous_ms=1e3 * best["previous"] / len(named), read_same=same)
                print(f"  ntu.read of the bytes ({len(named)} files, best of 5, alternating): "
                      f"{out['read_now_ms']:.2f} CPU-ms per file, at {args.previous_reader} "
                      f"{out['read_previous_ms']:.2f}: {best['previous'] / best['now']:.2f}x; "
                      f"clips {'byte-identical' if same else 'DIFFERENT'}")
        print(f"simulate alone (as the builder does, per {CHUNK}-file chunk, 1 process, {args.device}, "
              f"cutoff {opts.cutoff_hz} Hz): {1e3 * t_sim / max(n_sim, 1):.2f} CPU-ms per clip, "
              f"{out['simulate_clips_per_s']:.0f} clips/s ({n_sim} clips on {n_grids} distinct time grids)")

        # 3: the real build, once per --num-proc (and, fresh, on the first half of the corpus)
        half, n_half = None, len(paths) // 2
        if args.fresh and n_half >= 1:
            half = tmp / "half" / "nturgbd_skeletons"
            half.mkdir(parents=True)
            for path in sorted(paths)[:n_half]:
                os.link(path, half / path.name)
        saved_env = dict(os.environ)
        if args.pin_blas:  # read by numpy when the spawned workers import it
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = "1"
        try:
            for n_proc in args.num_proc:
                dest = tmp / f"dataset-{n_proc}"
                t = timed_build(BuildOptions(output_dir=dest, num_proc=n_proc, **base))
                rep, res = t["result"].report, t["result"]
                rows = sum(rep["rows"].values())
                steady = t["wall_s"] - t["finalize_s"]
                row = {"wall_s": t["wall_s"], "cpu_s": t["cpu_s"], "finalize_s": t["finalize_s"],
                       "rows": rows, "clips_per_s": res.clips_per_s, "files_per_s": len(paths) / t["wall_s"],
                       "mb_per_s": res.input_mb_per_s, "cpu_ms_per_file": 1e3 * t["cpu_s"] / len(paths),
                       "steady_cpu_ms_per_file": 1e3 * (t["cpu_s"] - t["finalize_cpu_s"]) / len(paths),
                       "ntu120_extrapolated_s": NTU120_SAMPLES * steady / len(paths)}
                # CPU-based: what NTU-120 costs on n_proc otherwise idle cores (no contention)
                row["ntu120_cpu_estimate_s"] = (NTU120_SAMPLES * row["steady_cpu_ms_per_file"] / 1e3 / n_proc
                                                + t["finalize_s"])
                out["builds"][n_proc] = row
                print(f"build end to end, {n_proc} process{'es' if n_proc > 1 else ''}: {t['wall_s']:.1f} s "
                      f"wall ({t['finalize_s']:.1f} s of it finalizing: report, figures, card), "
                      f"{row['cpu_ms_per_file']:.2f} CPU-ms per file (all processes); {rows} rows from "
                      f"{rep['inputs']} inputs ({rep['inputs_skipped']} skipped): {res.clips_per_s:.0f} "
                      f"clips/s, {row['files_per_s']:.0f} files/s, {res.input_mb_per_s:.1f} MB/s of input")
                row["phase_cpu_ms_per_file"] = {k: 1e3 * v / len(paths) for k, v in t["phase_cpu_s"].items()}
                print(f"  CPU-ms per file by phase{' (in the driver; the workers do the rest)' if n_proc > 1 else ''}: "
                      + phase_line(t["phase_cpu_s"], len(paths), here_only=n_proc > 1))
                if n_proc == args.num_proc[0]:
                    row["instruction_pass_alone"] = instruction_pass_alone(
                        dest, tmp, len(paths), args.previous_instructions)
                print(f"  NTU-120 ({NTU120_SAMPLES} samples) at this wall rate (finalizing once): "
                      f"{row['ntu120_extrapolated_s'] / 60:.1f} min; from CPU time "
                      f"({row['steady_cpu_ms_per_file']:.2f} CPU-ms per file without finalizing, "
                      f"spread over {n_proc} free core{'s' if n_proc > 1 else ''}): "
                      f"{row['ntu120_cpu_estimate_s'] / 60:.1f} min (target <= {TARGET_S / 60:.0f} min "
                      f"on 2 cores)")
                if args.fresh:
                    shutil.rmtree(dest, ignore_errors=True)
                    f = fresh_build(output_dir=dest, num_proc=n_proc, **base)
                    row["fresh"] = f
                    print(f"  the same build in a fresh process, as the CLI runs it (imports, worker "
                          f"start and kernel loading included): {f['wall_s']:.1f} s wall, "
                          f"{1e3 * f['cpu_s'] / len(paths):.2f} CPU-ms per file; {f['rows']} rows; "
                          f"peak RSS {f['main_rss_mb']:.0f} MiB (largest worker {f['worker_rss_mb']:.0f})")
                    if half is not None:  # the same on half the corpus: fixed and per-file cost
                        h = fresh_build(output_dir=tmp / "dataset-half", num_proc=n_proc,
                                        **{**base, "input_dir": half})
                        shutil.rmtree(tmp / "dataset-half", ignore_errors=True)
                        row["fresh_half"] = h
                        row["scaling"] = sc = scaling(h, f, n_half, len(paths))
                        print(f"  fresh, {n_half} then {len(paths)} files: {h['wall_s']:.1f} / {f['wall_s']:.1f} s "
                              f"wall, peak RSS {h['main_rss_mb']:.0f} / {f['main_rss_mb']:.0f} MiB (largest "
                              f"worker {h['worker_rss_mb']:.0f} / {f['worker_rss_mb']:.0f}); per added file "
                              f"{sc['cpu_ms_per_file']:.2f} CPU-ms (all processes), {sc['wall_ms_per_file']:.2f} "
                              f"wall-ms; fixed {sc['cpu_fixed_s']:.1f} CPU-s, {sc['wall_fixed_s']:.1f} s wall "
                              f"(start-up, imports, workers, finalizing) -> NTU-120: "
                              + (f"{sc['ntu120_s'] / 60:.1f} min" if sc["ntu120_s"] == sc["ntu120_s"] else
                                 "n/a (the difference is within the noise: use more --files)")
                              + f" (target <= {TARGET_S / 60:.0f} min on 2 cores)")
                if args.engine == "local" or n_proc != max(args.num_proc):
                    shutil.rmtree(dest, ignore_errors=True)
            if args.engine == "ray":
                n_proc = max(args.num_proc)
                ray_opts = BuildOptions(output_dir=tmp / "dataset-ray", num_proc=1, engine="ray",
                                        ray=RayOptions(workers=n_proc, num_cpus=n_proc), **base)
                t = timed_build(ray_opts)
                local = out["builds"][n_proc]
                out["ray"] = {"wall_s": t["wall_s"], "read_cpu_s": STAGE_TIMES["read_s"],
                              "simulate_cpu_s": STAGE_TIMES["simulate_s"],
                              "speed_vs_local": local["wall_s"] / t["wall_s"],
                              "same_dataset": same_tree(tmp / f"dataset-{n_proc}", tmp / "dataset-ray")}
                print(f"build through --engine ray ({n_proc} CPUs; Ray started and stopped inside "
                      f"the timing): {t['wall_s']:.1f} s wall = {out['ray']['speed_vs_local']:.2f} x "
                      f"the local engine's speed with {n_proc} processes; stage CPU s summed over "
                      f"workers: read {STAGE_TIMES['read_s']:.1f}, simulate {STAGE_TIMES['simulate_s']:.1f}; "
                      f"byte-identical to the local build: {out['ray']['same_dataset']}")
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
        if args.link_to:  # a full-size corpus: hard links to the files written
            full = tmp / "full" / "nturgbd_skeletons"
            distinct = link_corpus(paths, full, args.link_to)
            out["full"] = {}
            print(f"\nfull size: {args.link_to} NTU-named hard links to the {distinct} files written "
                  f"(each its own clip id)")
            for n_proc in args.num_proc:
                dest = tmp / f"dataset-full-{n_proc}"
                f = fresh_build(output_dir=dest, num_proc=n_proc, **{**base, "input_dir": full})
                out["full"][n_proc] = f
                print(f"  build of {args.link_to} files in a fresh process, {n_proc} process"
                      f"{'es' if n_proc > 1 else ''}: {f['wall_s']:.1f} s wall = {f['wall_s'] / 60:.1f} min "
                      f"(target <= {TARGET_S / 60:.0f} min), {1e3 * f['cpu_s'] / args.link_to:.2f} CPU-ms per "
                      f"file; {f['rows']} rows; peak RSS {f['main_rss_mb']:.0f} MiB (largest worker "
                      f"{f['worker_rss_mb']:.0f})")
                print("    wall seconds by phase of the build call: "
                      + ", ".join(f"{k} {v:.1f}" for k, v in f["phases_s"].items()))
                shutil.rmtree(dest, ignore_errors=True)
        if len(out["builds"]) > 1:
            for key, what in (("wall_s", "in this process"), ("fresh", "in fresh processes")):
                walls = {n: (b[key]["wall_s"] if key == "fresh" else b[key])
                         for n, b in out["builds"].items() if key in b}
                if len(walls) > 1:
                    fastest = min(walls, key=walls.get)
                    print(f"fastest {what}: --num-proc {fastest} ("
                          + ", ".join(f"{n}: {w:.1f} s" for n, w in walls.items()) + ")")
        out["loadavg_end"] = os.getloadavg()
        print("load average at the end: " + ", ".join(f"{x:.1f}" for x in out["loadavg_end"]))
        main_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        out.update(main_peak_rss_mb=main_mb, worker_peak_rss_mb=worker_mb)
        print(f"peak RSS: main process {main_mb:.0f} MiB (it also held the parse/simulate timings' "
              f"clips), largest worker {worker_mb:.0f} MiB")
        return out
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
