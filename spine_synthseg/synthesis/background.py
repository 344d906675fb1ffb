"""Stage 2a: split the background (label 0) into regions that get their own intensity (fat, muscle, bowel, air).

Modes:
  single           one region.
  distance         bands of distance to the labelled anatomy (edges in ``labels.DISTANCE_BANDS_MM``: n_distance bands),
                   precomputed per slice as ``bg_distance``.
  random           level sets of one smooth Gaussian field (4 x 4 control points, bilinear) cut at N(0, 1) quantiles
                   into n_random regions of similar expected area.
  distance_random  both, crossed: n_distance * n_random regions.
  real_clusters    1D k-means of the real background intensity (``clusters``, from preprocessing; a disclosed
                   variant: the labels are derived from a real image, the image itself is never read here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.sampling import check_range, normal

MODES = ("single", "distance", "random", "distance_random", "real_clusters")
FIELD_GRID = 4  # control points per axis of the random field


class BackgroundPartition:
    """mode: see the module docstring. n_random: regions of the random field (1-16). n_distance: distance bands
    (5 = len(DISTANCE_BANDS_MM) + 1). n_clusters: k of the real-intensity clusters (= preprocess.n_clusters)."""

    def __init__(self, mode: str = "distance_random", n_random: int = 3, n_distance: int = 5, n_clusters: int = 4):
        if mode not in MODES:
            raise ConfigError(f"synth.background.mode={mode!r}; use one of {MODES}.")
        self.mode = mode
        self.n_random = int(check_range("synth.background.n_random", n_random, 1, 16))
        self.n_distance = int(check_range("synth.background.n_distance", n_distance, 1, 16))
        self.n_clusters = int(check_range("synth.background.n_clusters", n_clusters, 1, 16))
        quantiles = torch.arange(1, self.n_random, dtype=torch.float32) / self.n_random
        # field std after bilinear upsampling of unit-variance control points is ~0.75; cut at its quantiles
        self._cuts = 0.75 * torch.special.ndtri(quantiles)

    @property
    def enabled(self) -> bool:
        return True  # always partitions; "single" is one region

    @property
    def n_regions(self) -> int:
        return {"single": 1, "distance": self.n_distance, "random": self.n_random,
                "distance_random": self.n_distance * self.n_random, "real_clusters": self.n_clusters}[self.mode]

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> torch.Tensor | None:
        """Coarse random field (B, 1, 4, 4) for the random modes, else None (nothing drawn)."""
        if self.mode not in ("random", "distance_random"):
            return None
        return normal((batch, 1, FIELD_GRID, FIELD_GRID), generator, device)

    def apply(self, params: torch.Tensor | None, labels: dict[str, torch.Tensor], generator=None) -> torch.Tensor:
        """(B, H, W) background region index in [0, n_regions) from the label batch ("structures", and
        "bg_distance" / "clusters" where the mode needs them)."""
        s = labels["structures"]
        if self.mode == "single":
            return torch.zeros_like(s)
        if self.mode == "real_clusters":
            if "clusters" not in labels:
                raise ConfigError("synth.background.mode=real_clusters needs the batch key 'clusters' (per-class "
                                  "k-means of real intensities, from preprocessing); use label maps from a SliceSet.")
            return labels["clusters"]
        dist = labels["bg_distance"].clamp_max(self.n_distance - 1)
        if self.mode == "distance":
            return dist
        field = F.interpolate(params, size=s.shape[-2:], mode="bilinear", align_corners=True)[:, 0]
        part = torch.bucketize(field.contiguous(), self._cuts.to(field.device))
        return part if self.mode == "random" else dist * self.n_random + part
