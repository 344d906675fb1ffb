"""Stage 6: acquisition at a coarser resolution: blur, downsample, (low-res noise), upsample back.

For an acquisition spacing a (mm, per axis) and working spacing w, the ratio is r = a / w >= 1. As in
SynthSeg (lab2im), the anti-aliasing / slice-profile blur is Gaussian with sigma = 0.75 * r voxels
(times U(1/blur_range, blur_range) when randomised). The low-resolution grid samples the blurred image at
pixel centres (j + 0.5) * r (j = 0 .. ceil(n / r) - 1) and linear interpolation brings it back to the
working grid. Labels are never degraded.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.sampling import check_range, normal, uniform


def gaussian_blur(image: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (B, 1, H, W) with per-image sigma (B, 2) in voxels (rows, cols); 0 = none."""
    b, _, h, w = image.shape
    radius = max(1, math.ceil(3 * float(sigma.max()))) if sigma.numel() else 1
    x = torch.arange(-radius, radius + 1, device=image.device, dtype=image.dtype)
    out = image.reshape(1, b, h, w)
    for axis in (0, 1):
        s = sigma[:, axis].clamp_min(1e-3).view(b, 1)
        k = torch.exp(-0.5 * (x.view(1, -1) / s) ** 2)
        k = torch.where(sigma[:, axis].view(b, 1) > 0, k / k.sum(1, keepdim=True), (x == 0).float().view(1, -1))
        weight = k.view(b, 1, -1, 1) if axis == 0 else k.view(b, 1, 1, -1)
        pad = (0, 0, radius, radius) if axis == 0 else (radius, radius, 0, 0)
        out = F.conv2d(F.pad(out, pad, mode="replicate"), weight, groups=b)
    return out.reshape(b, 1, h, w)


def _axis_positions(n: int, ratio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each output pixel of an axis of length n: the two low-res sample positions (pixel units, centre
    convention) it interpolates between, and the weight of the second. ratio: (B,)."""
    r = ratio.view(-1, 1)
    n_low = torch.ceil(n / r)
    u = (torch.arange(n, device=ratio.device).view(1, -1) + 0.5) / r - 0.5  # position in low-res index units
    j0 = torch.floor(u).clamp(min=0)
    j0 = torch.minimum(j0, n_low - 1)
    j1 = torch.minimum(j0 + 1, n_low - 1)
    t = (u - j0).clamp(0, 1)
    return (j0 + 0.5) * r, (j1 + 0.5) * r, t


def down_up(image: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """Sample (B, 1, H, W) on a grid `ratio` (B, 2) times coarser, then linearly interpolate back to (H, W)."""
    b, _, h, w = image.shape
    out = image
    for axis, n in ((0, h), (1, w)):
        p0, p1, t = _axis_positions(n, ratio[:, axis])
        coord = lambda p: 2 * p / n - 1  # noqa: E731  pixel units -> grid_sample's normalised units
        if axis == 0:
            xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=image.device).view(1, 1, w).expand(b, h, w)
            grids = [torch.stack([xs, coord(p).view(b, h, 1).expand(b, h, w)], -1) for p in (p0, p1)]
            t = t.view(b, 1, h, 1)
        else:
            ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=image.device).view(1, h, 1).expand(b, h, w)
            grids = [torch.stack([coord(p).view(b, 1, w).expand(b, h, w), ys], -1) for p in (p0, p1)]
            t = t.view(b, 1, 1, w)
        a, c = (F.grid_sample(out, g, mode="bilinear", padding_mode="border", align_corners=False) for g in grids)
        out = (1 - t) * a + t * c
    return out


def degrade_resolution(image: torch.Tensor, spacing_mm: torch.Tensor, working_mm: float,
                       blur_jitter: torch.Tensor | None = None, lowres_noise: torch.Tensor | None = None) -> torch.Tensor:
    """Deterministic degradation of (B, 1, H, W) images to acquisition spacing (B, 2) mm and back.

    sigma = 0.75 * r (* blur_jitter) voxels per axis with r = spacing / working (no blur where r = 1)."""
    ratio = (spacing_mm / working_mm).clamp_min(1.0)
    sigma = torch.where(ratio > 1, 0.75 * ratio, torch.zeros_like(ratio))
    if blur_jitter is not None:
        sigma = sigma * blur_jitter
    out = gaussian_blur(image, sigma)
    if lowres_noise is not None:
        out = out + lowres_noise
    return down_up(out, ratio)


class RandomResolution:
    """Random acquisition spacing per image.

    With probability prob: with probability prob_aniso a thick-slice acquisition (one random axis at
    U(w, max_aniso_mm), the other at w), else isotropic U(w, max_iso_mm). aniso_axis: "random", "rows"
    (superior-inferior) or "cols" (anterior-posterior). blur_range (>= 1) jitters sigma.
    lowres_noise_std: std of noise added on the low-resolution grid. prob 0 disables the stage.
    """

    def __init__(self, prob=0.9, max_iso_mm=4.0, max_aniso_mm=8.0, prob_aniso=0.5, blur_range=1.15,
                 lowres_noise_std=0.01, aniso_axis="random", *, spacing_mm):
        self.prob = check_range("synth.resolution.prob", prob, 0, 1)
        self.working = spacing_mm
        self.max_iso = check_range("synth.resolution.max_iso_mm", max_iso_mm, spacing_mm, 12)
        self.max_aniso = check_range("synth.resolution.max_aniso_mm", max_aniso_mm, spacing_mm, 12)
        self.prob_aniso = check_range("synth.resolution.prob_aniso", prob_aniso, 0, 1)
        self.blur_range = check_range("synth.resolution.blur_range", blur_range, 1, 2)
        self.lowres_noise_std = check_range("synth.resolution.lowres_noise_std", lowres_noise_std, 0, 0.5)
        if aniso_axis not in ("random", "rows", "cols"):
            raise ConfigError(f"synth.resolution.aniso_axis={aniso_axis!r}; use random, rows or cols.")
        self.aniso_axis = aniso_axis

    @property
    def enabled(self) -> bool:
        return self.prob > 0

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> dict[str, torch.Tensor]:
        w = self.working
        iso = uniform(w, self.max_iso, (batch, 1), generator, device).expand(batch, 2)
        thick = uniform(w, self.max_aniso, (batch,), generator, device)
        p_rows = {"random": 0.5, "rows": 1.0, "cols": 0.0}[self.aniso_axis]
        axis = torch.rand((batch,), generator=generator, device=device) < p_rows
        aniso = torch.stack([torch.where(axis, thick, w), torch.where(axis, w, thick)], 1)
        is_aniso = (torch.rand((batch, 1), generator=generator, device=device) < self.prob_aniso)
        spacing = torch.where(is_aniso, aniso, iso)
        on = torch.rand((batch, 1), generator=generator, device=device) < self.prob
        spacing = torch.where(on, spacing, torch.full_like(spacing, w))
        jitter = uniform(1 / self.blur_range, self.blur_range, (batch, 2), generator, device)
        return {"spacing_mm": spacing, "blur_jitter": jitter}

    def apply(self, params: dict[str, torch.Tensor], image: torch.Tensor, generator=None) -> torch.Tensor:
        noise = None
        if self.lowres_noise_std > 0:
            noise = self.lowres_noise_std * normal(image.shape, generator, image.device)
        return degrade_resolution(image, params["spacing_mm"], self.working, params["blur_jitter"], noise)
