"""Per-item work on the machine's torch threads (``threads`` in the config): reading and preprocessing slices."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T, R = TypeVar("T"), TypeVar("R")


def thread_map(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(x) for x in items], on torch.get_num_threads() threads (NumPy, SciPy, PIL and torch release the GIL in
    their kernels: reading and preprocessing, benchmarks/data_speed.py). The results keep
    the items' order and the first error in that order is raised, as in the loop."""
    items = list(items)
    workers = min(torch.get_num_threads(), len(items))
    if workers <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))
