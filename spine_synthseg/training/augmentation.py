"""nnU-Net's default intensity augmentation of real images (Model B+aug), batched in torch.

As in nnU-Net v2 (``nnUNetTrainer.get_training_transforms``), on z-scored images (each image x -> (x - mean) / std,
augmented, then mapped back), in this order and with these per-image probabilities:
  Gaussian noise      p 0.10   x + N(0, v), variance v ~ U(0, 0.1)
  Gaussian blur       p 0.20   then per image 0.5: sigma ~ U(0.5, 1) px, drawn per axis
  brightness          p 0.15   x * m, m ~ U(0.75, 1) or U(1, 1.25) with equal odds ("BGContrast")
  contrast            p 0.15   (x - mean) * c + mean, c as m, clipped to the image's former range
  low resolution      p 0.25   then per image 0.5: nearest down-sampling by z ~ U(0.5, 1), bilinear back
  inverted gamma      p 0.10   -gamma(-x), gamma ~ U(0.7, 1) or U(1, 1.5), keeping mean and std
  gamma               p 0.30   gamma(x) on x rescaled to [0, 1], back to the range, keeping mean and std
Not the synthetic generator's GMM, bias field or motion. Labels are never changed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.resolution import gaussian_blur
from spine_synthseg.synthesis.sampling import check_range, uniform

DEFAULT_P = {"noise": 0.1, "blur": 0.2, "brightness": 0.15, "contrast": 0.15, "low_resolution": 0.25,
             "inverted_gamma": 0.1, "gamma": 0.3}


def _bg_range(lo: float, hi: float, shape, generator, device) -> torch.Tensor:
    """nnU-Net's BGContrast: U(lo, 1) or U(1, hi) with equal odds."""
    below = torch.rand(shape, generator=generator, device=device) < 0.5
    return torch.where(below, uniform(lo, 1.0, shape, generator, device), uniform(1.0, hi, shape, generator, device))


def _stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = x.flatten(1)
    return flat.mean(1).view(-1, 1, 1, 1), flat.std(1).view(-1, 1, 1, 1).clamp_min(1e-6)


def _gamma(x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """x ** gamma on x rescaled to [0, 1], rescaled back, then mean and std restored (retain_stats)."""
    mean, std = _stats(x)
    flat = x.flatten(1)
    lo, hi = flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1)
    rng = (hi - lo).clamp_min(1e-6)
    y = ((x - lo) / rng).clamp(0, 1) ** gamma * rng + lo
    y_mean, y_std = _stats(y)
    return (y - y_mean) / y_std * std + mean


class NnUNetIntensityAugmentation:
    """probabilities: per transform, see DEFAULT_P (0 disables one). Images (B, 1, H, W); any range."""

    def __init__(self, probabilities: dict[str, float] | None = None):
        p = {**DEFAULT_P, **dict(probabilities or {})}
        unknown = set(p) - set(DEFAULT_P)
        if unknown:
            raise ConfigError(f"data.intensity_augmentation.probabilities has unknown {sorted(unknown)}; use {list(DEFAULT_P)}.")
        self.p = {k: check_range(f"data.intensity_augmentation.probabilities.{k}", v, 0, 1) for k, v in p.items()}

    def __call__(self, image: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        b, dev = image.shape[0], image.device
        g = generator

        def chosen(p: float) -> torch.Tensor:
            return (torch.rand((b, 1, 1, 1), generator=g, device=dev) < p)

        mean0, std0 = _stats(image)
        x = (image - mean0) / std0
        variance = uniform(0.0, 0.1, (b, 1, 1, 1), g, dev)
        x = torch.where(chosen(self.p["noise"]), x + variance.sqrt() * torch.randn(x.shape, generator=g, device=dev), x)
        sigma = uniform(0.5, 1.0, (b, 2), g, dev)
        blur = chosen(self.p["blur"]) & chosen(0.5)
        x = torch.where(blur, gaussian_blur(x, sigma * blur.view(b, 1).float()), x)
        x = torch.where(chosen(self.p["brightness"]), x * _bg_range(0.75, 1.25, (b, 1, 1, 1), g, dev), x)
        mean, _ = _stats(x)
        lo, hi = x.flatten(1).min(1).values.view(-1, 1, 1, 1), x.flatten(1).max(1).values.view(-1, 1, 1, 1)
        contrasted = ((x - mean) * _bg_range(0.75, 1.25, (b, 1, 1, 1), g, dev) + mean).clamp(lo, hi)
        x = torch.where(chosen(self.p["contrast"]), contrasted, x)
        zoom = uniform(0.5, 1.0, (b,), g, dev)
        low = (chosen(self.p["low_resolution"]) & chosen(0.5)).view(b)
        for i in low.nonzero().flatten().tolist():  # a few images per batch, each with its own size
            size = [max(1, int(round(s * float(zoom[i])))) for s in x.shape[-2:]]
            small = F.interpolate(x[i:i + 1], size=size, mode="nearest")
            x[i:i + 1] = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
        gamma_inv = _bg_range(0.7, 1.5, (b, 1, 1, 1), g, dev)
        x = torch.where(chosen(self.p["inverted_gamma"]), -_gamma(-x, gamma_inv), x)
        gamma = _bg_range(0.7, 1.5, (b, 1, 1, 1), g, dev)
        x = torch.where(chosen(self.p["gamma"]), _gamma(x, gamma), x)
        return x * std0 + mean0
