"""Stage 4: min-max normalisation to [0, 1], then gamma: x' = minmax(x) ** exp(g), g ~ N(0, gamma_std^2)."""

from __future__ import annotations

import torch

from spine_synthseg.synthesis.sampling import check_range, normal


def minmax(image: torch.Tensor) -> torch.Tensor:
    """Per-image min-max normalisation of (B, C, H, W) to [0, 1]."""
    flat = image.flatten(1)
    lo, hi = flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1)
    return (image - lo) / (hi - lo).clamp_min(1e-6)


class RandomGamma:
    """gamma_std: std of log(gamma) (0-1). Always enabled: gamma_std 0 still normalises to [0, 1]."""

    def __init__(self, gamma_std: float = 0.3):
        self.gamma_std = check_range("synth.gamma.gamma_std", gamma_std, 0, 1)

    @property
    def enabled(self) -> bool:
        return True

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> torch.Tensor:
        return torch.exp(self.gamma_std * normal((batch, 1, 1, 1), generator, device))

    @staticmethod
    def apply(gamma: torch.Tensor, image: torch.Tensor, generator=None) -> torch.Tensor:
        return minmax(image).clamp_min(0) ** gamma
