"""Shared helpers for the benchmark scripts: timing loop, training label maps, JSON output."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
import spine_synthseg.config  # noqa: E402,F401
from spine_synthseg.config import PROJECT_ROOT  # noqa: E402
from spine_synthseg.data.datamodules import load_splits  # noqa: E402
from spine_synthseg.data.datasets import stack_label_maps  # noqa: E402

RESULTS = PROJECT_ROOT / "results" / "benchmarks"


def rate(fn, items_per_call: int, seconds: float = 8.0, warmup: int = 2) -> float:
    """Items per second of fn() over at least `seconds` of wall clock, after warm-up calls."""
    for _ in range(warmup):
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += items_per_call
    return n / (time.perf_counter() - start)


def training_label_maps(n: int, spacing_mm: float = 1.5, size=(160, 128)) -> dict[str, torch.Tensor]:
    """n label maps of the training patients at the working spacing (never images)."""
    data = PROJECT_ROOT.parent / "shared" / "data" / "spider_t2space"
    slices, splits = load_splits({"root": str(data)}, {"spacing_mm": spacing_mm, "size": list(size)},
                                 {"fractions": {"train": 0.6, "val": 0.15, "test": 0.25}, "seed": 42},
                                 str(PROJECT_ROOT / "data" / "cache"))
    train = slices.of_patients(splits["train"])
    return stack_label_maps(train, list(range(min(n, len(train)))))


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**payload, "machine": machine()}, indent=2))
    print(json.dumps(payload, indent=2))
    print(f"written {path}")
    return path
