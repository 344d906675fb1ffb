"""Stage 5a: acquisition noise, Gaussian or Rician (magnitude images)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spine_synthseg.synthesis.sampling import check_range, normal, uniform


@dataclass
class NoiseParams:
    std: torch.Tensor  # (B, 1, 1, 1)
    rician: torch.Tensor  # (B, 1, 1, 1) bool


class RandomNoise:
    """Additive noise with std ~ U(0, max_std) in [0, 1] image units (0-0.5; 0 disables).

    Gaussian: x + n. Rician (magnitude of complex Gaussian noise, with probability rician_prob):
    sqrt((x + n1)^2 + n2^2), n1, n2 ~ N(0, std^2).
    """

    def __init__(self, max_std: float = 0.05, rician_prob: float = 0.5):
        self.max_std = check_range("synth.noise.max_std", max_std, 0, 0.5)
        self.rician_prob = check_range("synth.noise.rician_prob", rician_prob, 0, 1)

    @property
    def enabled(self) -> bool:
        return self.max_std > 0

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> NoiseParams:
        return NoiseParams(
            std=uniform(0.0, self.max_std, (batch, 1, 1, 1), generator, device),
            rician=torch.rand((batch, 1, 1, 1), generator=generator, device=device) < self.rician_prob,
        )

    @staticmethod
    def apply(params: NoiseParams, image: torch.Tensor, generator=None) -> torch.Tensor:
        n1 = params.std * normal(image.shape, generator, image.device)
        n2 = params.std * normal(image.shape, generator, image.device)
        return torch.where(params.rician, torch.sqrt((image + n1) ** 2 + n2**2), image + n1)
