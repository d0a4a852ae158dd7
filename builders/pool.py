"""Worker process pools of builds: spawned, with one BLAS thread per worker.

N worker processes on N cores each starting OpenBLAS/MKL/OpenMP with one thread per core would
run N x N threads that spin against each other (measured: a 2-process build 3x slower in wall
time than with one thread per worker, ``benchmarks/build_speed.py``). The workers do small
matrix products, where threads do not pay anyway.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from typing import Any

#: Thread-count variables read by the BLAS/OpenMP libraries when a worker imports numpy.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def worker_pool(num_proc: int, initializer: Callable[..., Any] | None = None,
                initargs: tuple = ()) -> Iterator[Pool]:
    """A ``spawn`` pool of ``num_proc`` workers, each with one BLAS thread unless the caller's
    environment already sets ``THREAD_VARS`` (the variable given is then kept)."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    for k in THREAD_VARS:
        os.environ.setdefault(k, "1")
    try:  # the workers copy the environment when they start, inside Pool()
        pool = mp.get_context("spawn").Pool(num_proc, initializer=initializer, initargs=initargs)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    with pool:
        yield pool
