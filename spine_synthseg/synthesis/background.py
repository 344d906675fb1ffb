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
  tissue           the k-means tissue classes of the real background on intensity and texture (``tissue``, n_tissue
                   classes from preprocessing, ``labels.tissue_classes``; disclosed as real_clusters), randomised per
                   image: the classes merged at random into K ~ U{tissue_k} regions, optionally deformed independently
                   of the spine (independent_deform), and with probability label_only_prob replaced by the label-only
                   partition (distance_random).
The distance bands can be made a weaker cue: kept per image with probability band_prob (else one band), and with
random_edges each band edge kept with probability 1/2 per image (coarser bands at random edges). smooth_px > 1
smooths the real_clusters / tissue maps by a majority vote in a smooth_px x smooth_px window.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.sampling import check_interval, check_range, normal
from spine_synthseg.synthesis.spatial import RandomSpatial, SpatialParams
from spine_synthseg.tensors import argmax

MODES = ("single", "distance", "random", "distance_random", "real_clusters", "tissue")
FIELD_GRID = 4  # control points per axis of the random field


@dataclass
class BackgroundParams:
    """field: (B, 1, 4, 4) random field; bands_on: (B,) keep the distance bands; edges_on: (B, n_distance - 1)
    band edges kept; merge: (B, n_tissue) region of each tissue class; label_only: (B,) use the label-only
    partition (tissue mode); warp: the independent deformation of the tissue map (or None)."""

    field: torch.Tensor
    bands_on: torch.Tensor
    edges_on: torch.Tensor
    merge: torch.Tensor
    label_only: torch.Tensor
    warp: SpatialParams | None


def majority(classes: torch.Tensor, n: int, window: int) -> torch.Tensor:
    """(B, H, W) class maps (0..n-1) smoothed by the most frequent class in a window x window neighbourhood."""
    if window <= 1:
        return classes
    votes = F.one_hot(classes.clamp(0, n - 1), n).permute(0, 3, 1, 2).float()
    return argmax(F.avg_pool2d(votes, window, stride=1, padding=window // 2, count_include_pad=False), 1)


class BackgroundPartition:
    """mode: see the module docstring. n_random: regions of the random field (1-16). n_distance: distance bands
    (5 = len(DISTANCE_BANDS_MM) + 1). n_clusters: k of the real-intensity clusters (= preprocess.n_clusters).
    n_tissue: tissue classes (= preprocess.n_tissue; 0 unless mode tissue). tissue_k: [a, b] regions per image in
    tissue mode (1 <= a <= b <= n_tissue). label_only_prob: share of images with the label-only partition in tissue mode (0-1).
    independent_deform: deform the tissue map apart from the spine (affine and 8 mm elastic). band_prob: per-image
    probability of keeping the distance bands (0-1). random_edges: keep each band edge with probability 1/2.
    smooth_px: majority-vote window of the real_clusters / tissue maps in pixels (0 or 1: off; odd, <= 15)."""

    def __init__(self, mode: str = "distance_random", n_random: int = 3, n_distance: int = 5, n_clusters: int = 4,
                 n_tissue: int = 0, tissue_k=(3, 12), label_only_prob: float = 0.0, independent_deform: bool = False,
                 band_prob: float = 1.0, random_edges: bool = False, smooth_px: int = 0, *, spacing_mm: float):
        if mode not in MODES:
            raise ConfigError(f"synth.background.mode={mode!r}; use one of {MODES}.")
        self.mode = mode
        self.n_random = int(check_range("synth.background.n_random", n_random, 1, 16))
        self.n_distance = int(check_range("synth.background.n_distance", n_distance, 1, 16))
        self.n_clusters = int(check_range("synth.background.n_clusters", n_clusters, 1, 16))
        self.n_tissue = int(check_range("synth.background.n_tissue", n_tissue, 0, 16))
        if mode == "tissue" and self.n_tissue == 0:
            raise ConfigError("synth.background.mode=tissue needs the tissue classes of preprocessing: set "
                              "preprocess.n_tissue (e.g. 12, as experiment=realism/tissue does).")
        top = self.n_tissue if mode == "tissue" else 16
        self.tissue_k = tuple(int(k) for k in check_interval("synth.background.tissue_k", tissue_k, 1, top))
        self.label_only_prob = check_range("synth.background.label_only_prob", label_only_prob, 0, 1)
        self.band_prob = check_range("synth.background.band_prob", band_prob, 0, 1)
        self.random_edges = bool(random_edges)
        self.smooth_px = int(check_range("synth.background.smooth_px", smooth_px, 0, 15))
        if self.smooth_px > 1 and self.smooth_px % 2 == 0:
            raise ConfigError(f"synth.background.smooth_px={smooth_px} must be odd (or 0 for no smoothing).")
        self.warp = RandomSpatial(rotation_deg=20, scaling=0.2, shear=0.1, translation=0.1, elastic_std_mm=8.0,
                                  spacing_mm=spacing_mm) if independent_deform else None
        quantiles = torch.arange(1, self.n_random, dtype=torch.float32) / self.n_random
        # field std after bilinear upsampling of unit-variance control points is ~0.75; cut at its quantiles
        self._cuts = 0.75 * torch.special.ndtri(quantiles)

    @property
    def enabled(self) -> bool:
        return True  # always partitions; "single" is one region

    @property
    def n_regions(self) -> int:
        label_only = self.n_distance * self.n_random
        return {"single": 1, "distance": self.n_distance, "random": self.n_random, "distance_random": label_only,
                "real_clusters": self.n_clusters,
                "tissue": max(self.n_tissue, label_only if self.label_only_prob > 0 else 1)}[self.mode]

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> BackgroundParams:
        """Draws only what the configuration uses (the default modes draw the random field alone)."""
        rand = lambda *shape: torch.rand(shape, generator=generator, device=device)  # noqa: E731
        tissue = self.mode == "tissue"
        label_only = rand(batch) < self.label_only_prob if tissue and self.label_only_prob > 0 else \
            torch.full((batch,), not tissue, device=device)
        needs_field = self.mode in ("random", "distance_random") or (tissue and self.label_only_prob > 0)
        field = normal((batch, 1, FIELD_GRID, FIELD_GRID), generator, device) if needs_field else \
            torch.zeros((batch, 1, FIELD_GRID, FIELD_GRID), device=device)
        bands_on = rand(batch) < self.band_prob if self.band_prob < 1 else torch.ones(batch, dtype=torch.bool, device=device)
        edges_on = rand(batch, self.n_distance - 1) < 0.5 if self.random_edges else \
            torch.ones((batch, self.n_distance - 1), dtype=torch.bool, device=device)
        merge = torch.zeros((batch, self.n_tissue), dtype=torch.long, device=device)
        if tissue:
            lo, hi = self.tissue_k
            k = lo + (rand(batch, 1) * (hi - lo + 1)).floor().long()  # (B, 1) regions per image
            merge = (rand(batch, self.n_tissue) * k).floor().long()  # each class into a random region < k
        warp = self.warp.sample(batch, size, generator, device) if self.warp and tissue else None
        return BackgroundParams(field, bands_on, edges_on, merge, label_only, warp)

    def _label_only(self, params: BackgroundParams, labels: dict[str, torch.Tensor], mode: str) -> torch.Tensor:
        s = labels["structures"]
        if mode == "single":
            return torch.zeros_like(s)
        dist = labels["bg_distance"].clamp_max(self.n_distance - 1)
        steps = torch.cat([torch.zeros_like(params.edges_on[:, :1]), params.edges_on], 1).long().cumsum(1)
        dist = steps.gather(1, dist.flatten(1)).view_as(dist)  # coarser bands where edges are dropped
        dist = torch.where(params.bands_on[:, None, None], dist, torch.zeros_like(dist))
        if mode == "distance":
            return dist
        field = F.interpolate(params.field, size=s.shape[-2:], mode="bilinear", align_corners=True)[:, 0]
        part = torch.bucketize(field.contiguous(), self._cuts.to(field.device))
        return part if mode == "random" else dist * self.n_random + part

    def _real(self, labels: dict[str, torch.Tensor], key: str) -> torch.Tensor:
        if key not in labels:
            raise ConfigError(f"synth.background.mode={self.mode} needs the batch key {key!r} (from preprocessing of "
                              "real slices); use label maps from a SliceSet.")
        return labels[key]

    def apply(self, params: BackgroundParams, labels: dict[str, torch.Tensor], generator=None) -> torch.Tensor:
        """(B, H, W) background region index in [0, n_regions) from the label batch ("structures", and
        "bg_distance" / "clusters" / "tissue" where the mode needs them)."""
        if self.mode == "real_clusters":
            return majority(self._real(labels, "clusters"), self.n_clusters, self.smooth_px)
        if self.mode != "tissue":
            return self._label_only(params, labels, self.mode)
        tissue = self._real(labels, "tissue")
        if int(tissue.max()) >= self.n_tissue:
            raise ConfigError(f"A tissue map has class {int(tissue.max())} >= synth.background.n_tissue "
                              f"({self.n_tissue}); set it to preprocess.n_tissue.")
        if params.warp is not None:
            tissue = self.warp.apply(params.warp, tissue[:, None])[:, 0]
        tissue = majority(tissue, self.n_tissue, self.smooth_px)
        merged = params.merge.gather(1, tissue.flatten(1)).view_as(tissue)
        if self.label_only_prob == 0:
            return merged
        return torch.where(params.label_only[:, None, None], self._label_only(params, labels, "distance_random"), merged)
