"""Range validation and per-call random sampling shared by the synthesis stages (and real-image augmentation)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from spine_synthseg.errors import ConfigError


def check_range(key: str, value: float, lo: float, hi: float) -> float:
    """Return `value` if lo <= value <= hi, else raise naming the config key."""
    if not lo <= float(value) <= hi:
        raise ConfigError(f"{key}={value} is out of range [{lo}, {hi}].")
    return float(value)


def check_interval(key: str, value: Sequence[float], lo: float, hi: float) -> tuple[float, float]:
    """Return (a, b) if lo <= a <= b <= hi, else raise naming the config key."""
    if len(value) != 2 or not lo <= float(value[0]) <= float(value[1]) <= hi:
        raise ConfigError(f"{key}={list(value)} must be [a, b] with {lo} <= a <= b <= {hi}.")
    return float(value[0]), float(value[1])


def uniform(lo, hi, shape, generator: torch.Generator | None, device) -> torch.Tensor:
    """U(lo, hi) samples of `shape` (lo, hi: floats or broadcastable tensors)."""
    u = torch.rand(shape, generator=generator, device=device)
    return lo + (hi - lo) * u


def normal(shape, generator: torch.Generator | None, device) -> torch.Tensor:
    """N(0, 1) samples of `shape`."""
    return torch.randn(shape, generator=generator, device=device)
