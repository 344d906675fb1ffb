"""Stage 2: per-instance Gaussian-mixture intensities from contrast priors (T1-like <-> T2-like <-> uniform).

Priors are mean ranges in signal units [0, 1] per tissue class (background regions, vertebra, disc, canal):
  T2-like: canal (CSF) brightest, healthy discs bright, vertebral marrow intermediate.
  T1-like: CSF dark, discs intermediate-dark, fatty marrow bright.
Per image, w ~ U(t2_weight) interpolates T1 (w=0) -> T2 (w=1); u ~ U(uniform_mix) widens every range towards
[0, 1] (u=1 is SynthSeg's uniform prior: any tissue ordering). A class mean m_c is drawn from its range, each
instance k of that class gets mean m_k = m_c + instance_spread * N(0, 1) and std s_k ~ U(std_range);
pixels are x = m_k + s_k * N(0, 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spine_synthseg.structures import NUM_CLASSES
from spine_synthseg.synthesis.sampling import ConfigError, check_interval, check_range, normal, uniform

# (lo, hi) mean ranges per class: background, vertebra, disc, canal
T2_PRIORS = ((0.0, 0.7), (0.25, 0.5), (0.45, 0.85), (0.75, 1.0))
T1_PRIORS = ((0.0, 0.8), (0.5, 0.8), (0.2, 0.4), (0.05, 0.25))

BACKGROUND_MODES = ("single", "distance", "random", "distance_random", "real_clusters")


@dataclass
class GMMParams:
    """means, stds: (B, G) per generation label (background regions first, then instances)."""

    means: torch.Tensor
    stds: torch.Tensor


class RandomGMM:
    """Sample per-instance intensities; see the module docstring for the model.

    background_mode: how the background is split into regions with their own intensity:
      single (one region), distance (bands of distance to the spine), random (level sets of a smooth random
      field cut into n_random regions), distance_random (both, crossed), real_clusters (1D k-means of real background
      intensities, computed in preprocessing; labels only, the image is never used here).
    max_instances: upper bound on instance ids per slice.
    """

    def __init__(self, t2_weight=(0.0, 1.0), uniform_mix=(1.0, 1.0), std_range=(0.0, 0.06), instance_spread=0.1,
                 background_mode="distance_random", n_random=3, n_distance=5, n_clusters=4, max_instances=128):
        self.t2_weight = check_interval("synth.contrast.t2_weight", t2_weight, 0, 1)
        self.uniform_mix = check_interval("synth.contrast.uniform_mix", uniform_mix, 0, 1)
        self.std_range = check_interval("synth.contrast.std_range", std_range, 0, 0.5)
        self.instance_spread = check_range("synth.contrast.instance_spread", instance_spread, 0, 0.5)
        if background_mode not in BACKGROUND_MODES:
            raise ConfigError(f"synth.background.mode={background_mode!r}; use one of {BACKGROUND_MODES}.")
        self.background_mode = background_mode
        self.n_random = int(check_range("synth.background.n_random", n_random, 1, 16))
        self.n_distance, self.n_clusters, self.max_instances = n_distance, n_clusters, max_instances
        quantiles = torch.arange(1, self.n_random, dtype=torch.float32) / self.n_random
        # field std after bilinear upsampling of unit-variance control points is ~0.75; cut at its quantiles
        self._cuts = 0.75 * torch.special.ndtri(quantiles)
        self.n_background = {"single": 1, "distance": n_distance, "random": self.n_random,
                             "distance_random": n_distance * self.n_random, "real_clusters": n_clusters}[background_mode]

    def background_regions(self, batch: dict, generator=None) -> torch.Tensor:
        """(B, H, W) background region index in [0, n_background)."""
        s = batch["structures"]
        b, h, w = s.shape
        if self.background_mode == "single":
            return torch.zeros_like(s)
        if self.background_mode == "real_clusters":
            return batch["bg_clusters"]
        dist = batch["bg_distance"].clamp_max(self.n_distance - 1)
        if self.background_mode == "distance":
            return dist
        # smooth random partition: level sets of one smooth Gaussian field, cut at N(0, 1) quantiles so that
        # the n_random regions have similar areas on average
        coarse = normal((b, 1, 4, 4), generator, s.device)
        field = F.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=True)[:, 0]
        part = torch.bucketize(field.contiguous(), self._cuts.to(field.device))
        return part if self.background_mode == "random" else dist * self.n_random + part

    def generation_labels(self, batch: dict, regions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, H, W) generation label per pixel and (B, G) tissue class per generation label."""
        s, inst = batch["structures"], batch["instances"]
        if int(inst.max()) >= self.max_instances:
            raise ConfigError(f"A label map has instance id {int(inst.max())} >= synth.contrast.max_instances.")
        nb = self.n_background
        labels = torch.where(s > 0, nb + inst - 1, regions)
        cls = torch.zeros((s.shape[0], nb + self.max_instances), dtype=torch.long, device=s.device)
        cls.scatter_(1, labels.flatten(1), s.flatten(1))
        return labels, cls

    def sample(self, tissue_class: torch.Tensor, generator=None) -> GMMParams:
        b, g = tissue_class.shape
        dev = tissue_class.device
        t1, t2 = torch.tensor(T1_PRIORS, device=dev), torch.tensor(T2_PRIORS, device=dev)
        w = uniform(*self.t2_weight, (b, 1, 1), generator, dev)
        u = uniform(*self.uniform_mix, (b, 1, 1), generator, dev)
        ranges = (1 - w) * t1 + w * t2  # (B, C, 2)
        ranges = (1 - u) * ranges + u * torch.tensor([0.0, 1.0], device=dev)
        class_means = uniform(ranges[..., 0], ranges[..., 1], (b, NUM_CLASSES), generator, dev)
        means = class_means.gather(1, tissue_class) + self.instance_spread * normal((b, g), generator, dev)
        # background regions are different tissues (fat, muscle, air): each draws from the whole background range
        bg = uniform(ranges[:, 0, 0:1], ranges[:, 0, 1:2], (b, g), generator, dev)
        means = torch.where(tissue_class == 0, bg, means).clamp(0, 1)
        stds = uniform(*self.std_range, (b, g), generator, dev)
        return GMMParams(means=means, stds=stds)

    def apply(self, params: GMMParams, labels: torch.Tensor, generator=None) -> torch.Tensor:
        """(B, 1, H, W) image: x = mean[label] + std[label] * N(0, 1)."""
        flat = labels.flatten(1)
        mean = params.means.gather(1, flat).view_as(labels)
        std = params.stds.gather(1, flat).view_as(labels)
        return (mean + std * normal(labels.shape, generator, labels.device)).unsqueeze(1)
