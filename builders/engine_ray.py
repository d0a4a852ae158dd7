"""The Ray engine: the same build on a Ray cluster, through Ray Data (``--engine ray``).

Inputs are listed and cut into chunks exactly as by the local engine (``build.build``). Ray Data
streams the chunks through two stages:

1. **read** on a pool of actors (``RayOptions.workers``; ``num_gpus_per_worker`` GPUs each): the
   source's reader, which for video sources is Stage 1 (detection, pose, lifting). Each actor sets
   its worker state (and loads its models) once, in its constructor, and keeps them warm.
2. **simulate** on CPU tasks: Stage 2 and the rows (``build.finish_chunk``).

The driver receives the processed chunks in input order (``preserve_order``) and commits each one
with the same ``DatasetWriter`` calls as the local engine, so that shards, card, report and
``meta/info.json`` are byte-identical to a local build of the same inputs and options. Ray Data's
streaming executor applies backpressure (a bounded number of blocks in flight per stage), so
reading never outruns simulation and memory stays bounded on every node.

Fault tolerance: a read actor that dies is restarted and its in-flight chunk retried, and a
simulation task whose worker or node was lost is re-run, each up to ``RayOptions.max_retries``
times (``--ray-max-retries``; Ray Data's own default is unlimited); a chunk is committed only
once, by the driver, in order. (Reader errors never kill a worker: they become skips with their
reason, so only a lost process or node is retried.) A driver that is restarted resumes after
the last committed chunk, as a local build does (``DatasetWriter.pending``).

Paths: every node must see the input files under the same path (a shared filesystem); the
dataset is written by the driver.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .build import BuildOptions, RayOptions, ensure_worker, finish_chunk, read_chunk
from .pool import start_worker

logger = logging.getLogger(__name__)

#: Test hook (fault injection): when this variable names a file that does not exist yet, the
#: first read actor to take a chunk creates the file and exits at once, as a lost node would.
FAULT_ONCE_ENV = "IMU2SAFETY_RAY_FAULT_ONCE"


class _ReadActor:
    """Ray Data actor: sets the worker state (models) once, then reads one chunk per call."""

    def __init__(self, options: BuildOptions) -> None:
        start_worker()  # (the build's collector thresholds)
        ensure_worker(options)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {"chunk": [], "payload": [], "read_s": []}
        for k, blob in zip(batch["chunk"], batch["inputs"]):
            _maybe_fail()
            names_paths = [(name, Path(path)) for name, path in pickle.loads(blob)]
            start = time.perf_counter()
            read = read_chunk(names_paths)
            out["chunk"].append(int(k))
            out["payload"].append(pickle.dumps(read, protocol=pickle.HIGHEST_PROTOCOL))
            out["read_s"].append(time.perf_counter() - start)
        return out


def _simulate_batch(batch: dict[str, Any], options: BuildOptions) -> dict[str, list]:
    """Ray Data task: read chunks -> rows and Skips (Stage 2), timed."""
    start_worker()
    ensure_worker(options)
    out: dict[str, list] = {"chunk": [], "payload": [], "read_s": [], "simulate_s": []}
    for k, blob, read_s in zip(batch["chunk"], batch["payload"], batch["read_s"]):
        start = time.perf_counter()
        processed = finish_chunk(*pickle.loads(blob))
        out["chunk"].append(int(k))
        out["payload"].append(pickle.dumps(processed, protocol=pickle.HIGHEST_PROTOCOL))
        out["read_s"].append(float(read_s))
        out["simulate_s"].append(time.perf_counter() - start)
    return out


def _maybe_fail() -> None:
    marker = os.environ.get(FAULT_ONCE_ENV)
    if marker and not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)


def _connect(ro: RayOptions) -> bool:
    """Join or start Ray; True when this call started it (and so must shut it down)."""
    import ray

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # one INFO line per stage is noise
    if ray.is_initialized():
        return False
    ray.init(address=ro.address, num_cpus=ro.num_cpus if ro.address is None else None,
             include_dashboard=False, log_to_driver=False, configure_logging=False)
    return True


def _stages(ds, options: BuildOptions, ro: RayOptions, workers: int):
    """read (actor pool) -> simulate (CPU tasks), each retried at most ``ro.max_retries`` times."""
    ds = ds.map_batches(
        _ReadActor, fn_constructor_args=(options,), batch_size=1, concurrency=workers,
        num_cpus=1, num_gpus=ro.num_gpus_per_worker or None,
        max_restarts=ro.max_retries, max_task_retries=ro.max_retries)
    return ds.map_batches(_simulate_batch, fn_kwargs={"options": options}, batch_size=1,
                          num_cpus=1, max_retries=ro.max_retries)


def ray_chunks(options: BuildOptions, todo: list) -> Iterator[tuple[int, Any]]:
    """(chunk index, processed chunk) in input order, computed on a Ray cluster.

    ``todo`` is ``DatasetWriter.pending(...)``: (chunk index, [(input name, path), ...]).
    Per-stage seconds are logged at the end and kept in ``STAGE_TIMES`` of this process.
    """
    import ray
    import ray.data

    ro = options.ray or RayOptions()
    if not todo:
        return
    started = _connect(ro)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        workers = ro.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        items = [{"chunk": k, "inputs": pickle.dumps([(n, str(p)) for n, p in chunk])}
                 for k, chunk in todo]
        ds = ray.data.from_items(items, override_num_blocks=len(items))
        # Ray Data has no named parameter for retry bounds; its ray_remote_args (deprecated in
        # 2.60, removed in 2.64: setup.cfg pins ray below that) are the only way to set them.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            ds = _stages(ds, options, ro, workers)
        times = STAGE_TIMES
        times.update(read_s=0.0, simulate_s=0.0, chunks=0, wall_s=0.0)
        start = time.perf_counter()
        for row in ds.iter_rows():
            times["read_s"] += row["read_s"]
            times["simulate_s"] += row["simulate_s"]
            times["chunks"] += 1
            yield int(row["chunk"]), pickle.loads(row["payload"])
        times["wall_s"] = time.perf_counter() - start
        logger.info("ray engine: %d chunks in %.1f s on %d workers; read %.1f s, simulate %.1f s "
                    "(CPU seconds summed over workers)", times["chunks"], times["wall_s"],
                    workers, times["read_s"], times["simulate_s"])
    finally:
        if started:
            ray.shutdown()


#: Seconds per stage of the last Ray build in this process (summed over workers) and its wall time.
STAGE_TIMES: dict[str, float] = {}
