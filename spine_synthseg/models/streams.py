"""Forward passes without a gradient in concurrent CPU streams: the slices of a call spread over as many threads
as the caller's torch threads, each running its slices on one torch thread (``data.parallel.thread_map``), instead
of one stream on all of them.

On the 2-core machine the U-Net's small layers (instance norm, LeakyReLU, pooling, concatenation on 160 x 128 px
tiles) keep two threads of one stream only partly busy: two single-threaded streams segment the main job's
evaluation's segmentation 1.09x faster, with identical class maps in every case measured with NCHW activations (the channels-last U-Net rounds
differently on one and two torch threads: labels may flip at near-ties) (benchmarks/
inference_streams.py, tests/test_speed_paths.py; one or two torch threads could in principle round a reduction
differently). Splitting one slice's tiles between streams gained nothing there (scratch measurements), so one slice
stays in one stream. Measured on 2 cores only; the streams are as many as the torch threads (``threads``). On a GPU
there is one stream, as before.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from spine_synthseg.data.parallel import thread_map

T, R = TypeVar("T"), TypeVar("R")
_local = threading.local()  # .single: one_stream() is on in this thread


def streams(device: torch.device) -> int:
    """Concurrent streams for inference on `device` from the calling thread: its torch thread count on the CPU
    (1 inside a stream, or within ``one_stream``), 1 on any other device."""
    single = getattr(_local, "single", False)
    return torch.get_num_threads() if torch.device(device).type == "cpu" and not single else 1


@contextlib.contextmanager
def one_stream():
    """Within it (in the calling thread), ``stream_map`` is the plain loop in the calling thread on all its torch threads (the path
    before streams, timed beside them in benchmarks/inference_streams.py and compared in the tests)."""
    before, _local.single = getattr(_local, "single", False), True
    try:
        yield
    finally:
        _local.single = before


def stream_map(fn: Callable[[T], R], items: Sequence[T], device: torch.device) -> list[R]:
    """[fn(x) for x in items] over ``streams(device)`` streams (``thread_map``: the items' order, the first error in
    that order, the caller's autocast, grad and inference modes), or the loop where there is one stream."""
    return thread_map(fn, items) if streams(device) > 1 else [fn(x) for x in items]
