"""Contrast priors: ranges of tissue mean intensity, in signal units [0, 1], from T1-like to T2-like.

  T2-like: canal (CSF) brightest, healthy discs bright, vertebral marrow intermediate.
  T1-like: CSF dark, discs intermediate-dark, fatty marrow bright.
For a T2 weight w (0 = T1-like, 1 = T2-like) and a uniform mix u, the range of class c is
  R_c(w, u) = (1 - u) [(1 - w) T1_c + w T2_c] + u [0, 1]
so u = 1 is SynthSeg's uniform prior (any tissue ordering).
"""

from __future__ import annotations

import torch

# (lo, hi) mean ranges per class: background, vertebra, disc, canal
T2_PRIORS = ((0.0, 0.7), (0.25, 0.5), (0.45, 0.85), (0.75, 1.0))
T1_PRIORS = ((0.0, 0.8), (0.5, 0.8), (0.2, 0.4), (0.05, 0.25))


def prior_ranges(t2_weight: torch.Tensor, uniform_mix: torch.Tensor) -> torch.Tensor:
    """(B, 4, 2) mean ranges per class for per-image w and u of shape (B, 1, 1)."""
    dev = t2_weight.device
    t1, t2 = torch.tensor(T1_PRIORS, device=dev), torch.tensor(T2_PRIORS, device=dev)
    ranges = (1 - t2_weight) * t1 + t2_weight * t2
    return (1 - uniform_mix) * ranges + uniform_mix * torch.tensor([0.0, 1.0], device=dev)
