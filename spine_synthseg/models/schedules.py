"""Learning-rate schedules per optimisation step: linear warm-up, then a decay over the rest of training.

  factor(t) = (t + 1) / W                          for t < W (warm-up)
  factor(t) = 0.5 (1 + cos(pi p))   (cosine)        p = (t - W) / (T - W), clipped to [0, 1]
            = (1 - p) ** 0.9        (poly, nnU-Net)
            = 1                     (constant)
            = 1 until the last decay_fraction of training, then linear to 0   (wsd: warmup-stable-decay,
              so checkpoints of the stable phase give a learning curve at a learning rate that has not vanished)
with W = warmup_steps and T = total_steps. The learning rate is lr * factor(t).
"""

from __future__ import annotations

import math

import torch

from spine_synthseg.errors import ConfigError

DECAYS = ("cosine", "poly", "constant", "wsd")


class WarmupDecay:
    """The factor above as a picklable callable (LambdaLR keeps it in checkpoints)."""

    def __init__(self, warmup_steps: int, total_steps: int, decay: str, decay_fraction: float = 0.2):
        if decay not in DECAYS:
            raise ConfigError(f"scheduler.decay={decay!r}; use one of {DECAYS}.")
        if warmup_steps < 0 or total_steps < 1:
            raise ConfigError(f"scheduler.warmup_steps={warmup_steps} must be >= 0 and total_steps={total_steps} >= 1.")
        if not 0 < decay_fraction <= 1:
            raise ConfigError(f"scheduler.decay_fraction={decay_fraction} is out of range (0, 1].")
        self.warmup, self.total, self.decay, self.decay_fraction = warmup_steps, total_steps, decay, decay_fraction

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        if self.decay == "cosine":
            return 0.5 * (1 + math.cos(math.pi * progress))
        if self.decay == "poly":
            return (1 - progress) ** 0.9
        if self.decay == "wsd":
            return min(1.0, (1 - progress) / self.decay_fraction)
        return 1.0


def warmup_schedule(optimizer: torch.optim.Optimizer, warmup_steps: int = 50, total_steps: int = 1000,
                    decay: str = "cosine", decay_fraction: float = 0.2) -> torch.optim.lr_scheduler.LambdaLR:
    """LambdaLR with ``WarmupDecay``; step it once per optimisation step."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupDecay(int(warmup_steps), int(total_steps), decay, float(decay_fraction)))
