"""Stage 2c: anatomical sub-regions inside each structure, with intensities tied to their parent tissue.

Real anatomy is not one flat intensity per structure: a vertebra has a cortical rim (and endplates) around its
marrow, a disc an annulus around its nucleus, the canal CSF around the cauda equina / cord. From the label maps
alone, a pixel's depth d inside its structure class (number of 3x3 erosions it survives, about d x spacing mm
from the nearest border, chessboard metric) splits each class into a rim (d < w) and a core (d >= w), the width
w ~ U(width_mm) per image and class. On the GMM image, the rim (vertebra) or the core (disc, canal) is
multiplied by a factor f ~ U(factor) per image and class, so its intensity stays related to the parent's:
  vertebra  rim   f ~ U(vertebra_rim_factor)   cortical bone and endplates: darker than marrow in T1 and T2
  disc      core  f ~ U(disc_core_factor)      nucleus vs annulus: brighter or darker (degeneration, T1 / T2)
  canal     core  f ~ U(canal_core_factor)     cauda equina / cord vs CSF: darker on T2, similar on T1
Each split is applied with probability prob per image and class (else f = 1). texture_std adds a smooth
multiplicative texture inside the structures, exp(texture_std * N(0, 1) on a 6 x 6 grid, bilinear), standing
in for random sub-clusters. Labels are unchanged: sub-regions only shape the image.

mode="real_clusters" (a disclosed variant, FetalSynthSeg's sub-labels, arXiv 2403.15103) replaces the rim / core
split by the k clusters of the real intensity inside each class (``clusters``, 1D k-means from preprocessing,
labels.intensity_clusters): cluster j of class c is multiplied by f_cj ~ U(cluster_factor), independently per
image, class and cluster (with probability prob per image and class). The generator reads cluster indices only,
never a real intensity; label maps without real images (generate_synthetic_mri) have one cluster per class.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.background import majority
from spine_synthseg.synthesis.sampling import check_interval, check_range, normal, uniform

TEXTURE_GRID = 6
MODES = ("anatomy", "real_clusters")


@dataclass
class SubregionParams:
    widths_px: torch.Tensor  # (B, 3) rim width per class (vertebra, disc, canal), pixels
    factors: torch.Tensor  # (B, 3) intensity factor of the modified sub-region per class (1 = off); (B, 3, k)
                           # per class and real-intensity cluster in mode real_clusters
    texture: torch.Tensor  # (B, 1, grid, grid) log-texture control points


class StructureSubregions:
    """mode: anatomy | real_clusters. width_mm: [a, b] rim width in mm (0-10). *_factor: [a, b] intensity factors
    (0-2). prob: probability of each class's split per image (0-1; 0 with texture_std 0 disables the stage).
    texture_std: std of the log texture (0-1). n_clusters: k of the real-intensity clusters (= preprocess.n_clusters,
    real_clusters only). smooth_px: majority-vote window smoothing the cluster map (real_clusters; 0 or 1: off, odd
    up to 15). spacing_mm: working pixel spacing (mm)."""

    def __init__(self, prob: float = 0.0, width_mm=(1.5, 4.5), vertebra_rim_factor=(0.3, 0.9),
                 disc_core_factor=(0.6, 1.4), canal_core_factor=(0.4, 1.1), texture_std: float = 0.0,
                 *, spacing_mm: float, mode: str = "anatomy", cluster_factor=(0.5, 1.5), n_clusters: int = 4,
                 smooth_px: int = 0):
        if mode not in MODES:
            raise ConfigError(f"synth.subregions.mode={mode!r} is not one of {MODES}.")
        self.mode = mode
        self.cluster_factor = check_interval("synth.subregions.cluster_factor", cluster_factor, 0, 2)
        self.n_clusters = int(check_range("synth.subregions.n_clusters", n_clusters, 1, 16))
        self.smooth_px = int(check_range("synth.subregions.smooth_px", smooth_px, 0, 15))
        if self.smooth_px > 1 and self.smooth_px % 2 == 0:
            raise ConfigError(f"synth.subregions.smooth_px={smooth_px} must be odd (or 0 for no smoothing).")
        self.prob = check_range("synth.subregions.prob", prob, 0, 1)
        self.width_mm = check_interval("synth.subregions.width_mm", width_mm, 0, 10)
        self.factor_ranges = [check_interval(f"synth.subregions.{k}", v, 0, 2) for k, v in
                              (("vertebra_rim_factor", vertebra_rim_factor), ("disc_core_factor", disc_core_factor),
                               ("canal_core_factor", canal_core_factor))]
        self.texture_std = check_range("synth.subregions.texture_std", texture_std, 0, 1)
        self.spacing_mm = check_range("synth.subregions.spacing_mm", spacing_mm, 0.1, 10)

    @property
    def enabled(self) -> bool:
        return self.prob > 0 or self.texture_std > 0

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> SubregionParams:
        widths = uniform(*self.width_mm, (batch, 3), generator, device) / self.spacing_mm
        if self.mode == "real_clusters":
            factors = uniform(*self.cluster_factor, (batch, 3, self.n_clusters), generator, device)
        else:
            lo = torch.tensor([r[0] for r in self.factor_ranges], device=device)
            hi = torch.tensor([r[1] for r in self.factor_ranges], device=device)
            factors = uniform(lo, hi, (batch, 3), generator, device)
        on = torch.rand((batch, 3), generator=generator, device=device) < self.prob
        on = on[..., None] if factors.ndim == 3 else on
        factors = torch.where(on, factors, torch.ones_like(factors))
        texture = self.texture_std * normal((batch, 1, TEXTURE_GRID, TEXTURE_GRID), generator, device)
        return SubregionParams(widths.round(), factors, texture)

    @staticmethod
    def depth(mask: torch.Tensor, max_depth: int) -> torch.Tensor:
        """(B, C, H, W) number of 3x3 erosions (up to max_depth) each pixel of the boolean masks survives."""
        current, depth = mask.float(), torch.zeros(mask.shape, device=mask.device)
        for _ in range(max_depth):
            current = -F.max_pool2d(-current, 3, stride=1, padding=1)
            if not current.any():
                break
            depth += current
        return depth

    def apply(self, params: SubregionParams, x: tuple[torch.Tensor, ...], generator=None) -> torch.Tensor:
        """x = (image (B, 1, H, W), structures (B, H, W), clusters (B, H, W) in 0..k-1); returns the image with
        sub-region intensities."""
        image, structures, clusters = x
        masks = torch.stack([structures == c for c in (1, 2, 3)], 1)  # (B, 3, H, W)
        if self.mode == "real_clusters":
            if int(clusters.max()) >= self.n_clusters:
                raise ConfigError(f"A cluster map has index {int(clusters.max())} >= synth.subregions.n_clusters "
                                  f"({self.n_clusters}); set it to the preprocessing k (PreprocessConfig.n_clusters, 4 by default).")
            clusters = majority(clusters, self.n_clusters, self.smooth_px)
            index = (structures.clamp_min(1) - 1) * self.n_clusters + clusters  # (B, H, W) into the (3 x k) table
            per_pixel = params.factors.flatten(1).gather(1, index.flatten(1)).view_as(structures)
            factor = torch.where(structures > 0, per_pixel, torch.ones_like(per_pixel))[:, None]
        else:
            depth = self.depth(masks, int(params.widths_px.max().item()) + 1)
            rim = masks & (depth < params.widths_px[:, :, None, None])
            modified = torch.stack([rim[:, 0], masks[:, 1] & ~rim[:, 1], masks[:, 2] & ~rim[:, 2]], 1)
            factor = 1 + ((params.factors[:, :, None, None] - 1) * modified).sum(1, keepdim=True)
        texture = torch.exp(F.interpolate(params.texture, size=image.shape[-2:], mode="bilinear", align_corners=True))
        texture = torch.where(masks.any(1, keepdim=True), texture, torch.ones_like(texture))
        return image * factor * texture
