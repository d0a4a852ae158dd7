"""Worker process pools of builds: spawned, with one BLAS thread per worker and the build's
garbage-collector thresholds.

N worker processes on N cores each starting OpenBLAS/MKL/OpenMP with one thread per core would
run N x N threads that spin against each other (measured: a 2-process build 3x slower in wall
time than with one thread per worker, ``benchmarks/build_speed.py``). The workers do small
matrix products, where threads do not pay anyway.

A build allocates millions of short-lived containers (parsed clips, row dicts, instruction pairs)
beside a large heap of long-lived ones (imported modules, compiled kernels, the pass's row index).
With Python's default thresholds (700, 10, 10) the cyclic collector runs every 700 container
allocations and then walks what the young objects refer to: measured on a 600-file NTU build
(one process), 0.44-0.57 CPU-s of 5.2-7.0 were spent in the collector, 0.12 with
``BUILD_GC_THRESHOLD``. The build's objects form few reference cycles (freed by reference counts),
so collecting less often costs little memory: at most ``BUILD_GC_THRESHOLD[0]`` cyclic objects
wait a little longer.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from typing import Any

#: Thread-count variables read by the BLAS/OpenMP libraries when a worker imports numpy.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: The collector's generation thresholds while a build runs (``gc.set_threshold``), in the driver
#: (``build_gc``) and in every worker process for its life.
BUILD_GC_THRESHOLD = (50_000, 10, 10)


@contextlib.contextmanager
def build_gc() -> Iterator[None]:
    """``BUILD_GC_THRESHOLD`` in this process for the ``with`` block; the caller's afterwards."""
    saved = gc.get_threshold()
    gc.set_threshold(*BUILD_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def start_worker(initializer: Callable[..., Any] | None = None, *initargs: Any) -> None:
    """A worker's start: the build's collector thresholds, then ``initializer(*initargs)``."""
    gc.set_threshold(*BUILD_GC_THRESHOLD)
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def worker_pool(num_proc: int, initializer: Callable[..., Any] | None = None,
                initargs: tuple = ()) -> Iterator[Pool]:
    """A ``spawn`` pool of ``num_proc`` workers, each with one BLAS thread unless the caller's
    environment already sets ``THREAD_VARS`` (the variable given is then kept) and the build's
    collector thresholds (``start_worker``), then ``initializer(*initargs)``."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    for k in THREAD_VARS:
        os.environ.setdefault(k, "1")
    try:  # the workers copy the environment when they start, inside Pool()
        pool = mp.get_context("spawn").Pool(num_proc, initializer=start_worker,
                                               initargs=(initializer, *initargs))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with pool:
        yield pool
