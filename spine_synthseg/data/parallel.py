"""Per-item work on the machine's torch threads (``threads`` in the config): reading and preprocessing slices,
home-field copies, scoring, and inference in streams (``models/streams.py``).

The workers are lasting threads of one torch thread each, as many as the caller's torch threads. NumPy, SciPy, PIL
and torch release the GIL in their kernels, so the items run in parallel (benchmarks/data_speed.py); one torch thread
per worker keeps 2 workers from running 4 threads on 2 cores (measured on 2 cores only) (home-field copies and inference:
benchmarks/inference_streams.py). The outputs are those of the loop (tests/test_speed_paths.py).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T, R = TypeVar("T"), TypeVar("R")
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}  # (process id, workers) -> pool
_lock = threading.Lock()


def _pool(n: int) -> ThreadPoolExecutor:
    """A lasting pool of n threads of one torch thread each, made once per process and n. torch.set_num_threads
    also sets the count that threads started later begin with, so the caller's is put back once all n are set."""
    key = os.getpid(), n  # a forked child (a DataLoader worker) gets pools of its own
    with _lock:
        if key not in _pools:
            caller = torch.get_num_threads()
            ready = threading.Barrier(n)  # n distinct threads, each set before the count is put back

            def one_thread() -> None:
                torch.get_num_threads()  # torch's per-thread set-up first, which would otherwise undo the next line
                torch.set_num_threads(1)
                ready.wait()

            pool = ThreadPoolExecutor(n, thread_name_prefix="spine-synthseg-worker")
            for future in [pool.submit(one_thread) for _ in range(n)]:
                future.result()
            torch.set_num_threads(caller)
            _pools[key] = pool
        return _pools[key]


def thread_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(x) for x in items] on torch.get_num_threads() workers of one torch thread each, under the caller's CPU
    autocast (enabled, dtype), grad mode and inference mode (all three are per thread in torch). The results keep
    the items' order and the first error in that order is raised, as in the loop. Inside a worker (1 thread) it
    is the loop."""
    items, n = list(items), torch.get_num_threads()
    if min(n, len(items)) <= 1:
        return [fn(x) for x in items]
    autocast = torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

    def call(x: T) -> R:  # inference_mode(False) would slow a forward by a third: entered only where it is on
        with torch.autocast("cpu", dtype=autocast[1], enabled=autocast[0]), torch.set_grad_enabled(grad), \
                (torch.inference_mode() if inference else contextlib.nullcontext()):
            return fn(x)

    pool = _pool(n)
    # the caller's own torch threads idle while it waits (they would take a core); torch.set_num_threads is also the
    # count threads started meanwhile begin with (process-wide), and the caller's count is put back after
    torch.set_num_threads(1)
    try:
        return list(pool.map(call, items))
    finally:
        torch.set_num_threads(n)
