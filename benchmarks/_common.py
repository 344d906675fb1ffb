"""Shared helpers for the benchmark scripts: timing loop, training label maps, JSON output."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
from hydra.utils import instantiate  # noqa: E402

from spine_synthseg.config import PROJECT_ROOT, compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_splits  # noqa: E402
from spine_synthseg.hardware import describe  # noqa: E402
from spine_synthseg.data.datasets import stack_label_maps  # noqa: E402
from spine_synthseg.synthesis import SpineSynthGenerator  # noqa: E402
from spine_synthseg.training.crops import RandomCrop  # noqa: E402

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


def grid_overrides(spacing_mm: float | None = None, size=None) -> list[str]:
    """Config overrides for another working grid (None: the project default)."""
    out = [] if spacing_mm is None else [f"preprocess.spacing_mm={spacing_mm}"]
    return out + ([] if size is None else [f"preprocess.size=[{size[0]},{size[1]}]"])


def training_label_maps(n: int, overrides: list[str] = ()) -> dict[str, torch.Tensor]:
    """n training crops of label maps of the training patients (the project's split, grid and crop size,
    composed from conf/; never images)."""
    cfg = compose_config(["experiment=model_a", *overrides])
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    train = slices.of_patients(splits["train"])
    maps = stack_label_maps(train, list(range(min(n, len(train)))))
    crop = RandomCrop(tuple(cfg.preprocess.size))  # training crops (the canvas holds whole slices)
    return crop(maps, ("structures", "instances", "bg_distance", "clusters"), torch.Generator().manual_seed(0))


def model_a_generator(overrides: list[str] = ()) -> SpineSynthGenerator:
    """Model A's generator as the project config builds it: the generator's own defaults (experiment=model_a, what
    results/benchmarks/generator_speed_cpu.json measured; data=synth's recipe also reads tissue maps)."""
    return instantiate(compose_config(["experiment=model_a", *overrides]).synth)


def with_torch_leaky_relu(net: torch.nn.Module, inplace: bool) -> torch.nn.Module:
    """The U-Net with torch's own LeakyReLU (in place or not) for unet.LeakyReLU in every ConvBlock: the activation
    a benchmark compares against."""
    for block in [*net.down, *net.dec]:
        for i, m in enumerate(block):
            if isinstance(m, torch.nn.LeakyReLU):
                block[i] = torch.nn.LeakyReLU(m.negative_slope, inplace=inplace)
    return net


def gathered_crop(crop: RandomCrop, corners: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """RandomCrop.apply before it took one view per image: one advanced-indexing gather for the whole batch."""
    ch, cw = crop.size
    corners = torch.as_tensor(corners, device=x.device)  # RandomCrop.__call__ passes the list
    rows = corners[:, 0:1] + torch.arange(ch, device=x.device)
    cols = corners[:, 1:2] + torch.arange(cw, device=x.device)
    b = torch.arange(x.shape[0], device=x.device)
    moved = x.movedim((-2, -1), (1, 2))
    return moved[b[:, None, None], rows[:, :, None], cols[:, None, :]].movedim((1, 2), (-2, -1))


def machine() -> dict:
    return describe()


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**payload, "machine": machine()}, indent=2))
    print(json.dumps(payload, indent=2))
    print(f"written {path}")
    return path


def main_job_cases(output_dir: str):
    """(config, shipped Model A, evaluation cases) of `python run.py data=synth`: the cases of the model's own split
    at 2 torch threads, as the main job's evaluation builds them."""
    from spine_synthseg.evaluation.cases import build_cases
    from spine_synthseg.evaluation.run_split import run_split
    from spine_synthseg.models.checkpoint import load_checkpoint

    torch.set_num_threads(2)
    cfg = compose_config(["data=synth"], output_dir=output_dir)
    model = load_checkpoint(PROJECT_ROOT / "models" / "model_a.ckpt", to_dict(cfg.preprocess))
    return cfg, model, build_cases(cfg, run_split(cfg, {"model_a": model.hparams.get("splits")}))[0]
