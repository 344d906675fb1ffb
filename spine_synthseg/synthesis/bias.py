"""Stage 3: smooth multiplicative bias field, B = exp(upsample(N(0, sigma^2) on a coarse grid)), sigma ~ U(0, max_std)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spine_synthseg.synthesis.sampling import check_range, normal, uniform


class RandomBiasField:
    """max_std: upper bound of the log-field std (0-1; 0 disables). grid: coarse control points per axis (2-12)."""

    def __init__(self, max_std: float = 0.5, grid: int = 4):
        self.max_std = check_range("synth.bias.max_std", max_std, 0, 1)
        self.grid = int(check_range("synth.bias.grid", grid, 2, 12))

    @property
    def enabled(self) -> bool:
        return self.max_std > 0

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> torch.Tensor:
        """Coarse log-field (B, 1, grid, grid)."""
        std = uniform(0.0, self.max_std, (batch, 1, 1, 1), generator, device)
        return std * normal((batch, 1, self.grid, self.grid), generator, device)

    @staticmethod
    def apply(log_field: torch.Tensor, image: torch.Tensor, generator=None) -> torch.Tensor:
        field = F.interpolate(log_field, size=image.shape[-2:], mode="bilinear", align_corners=True)
        return image * torch.exp(field)
