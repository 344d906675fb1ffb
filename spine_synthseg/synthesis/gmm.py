"""Stage 2b: per-label Gaussian-mixture intensities from the contrast priors (``priors.py``).

Generation labels: background regions first (0 .. n_background - 1), then one label per instance (vertebra
or disc level, canal). Per image, w ~ U(t2_weight) and u ~ U(uniform_mix) give the class ranges R_c(w, u); a
class mean m_c ~ U(R_c) is drawn, each instance k of class c gets m_k = m_c + instance_spread * N(0, 1), each
background region its own mean ~ U(R_background); every label has a std s_k ~ U(std_range). Pixels are
x = m_k + s_k * N(0, 1), means clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from spine_synthseg.errors import ConfigError
from spine_synthseg.structures import NUM_CLASSES
from spine_synthseg.synthesis.priors import prior_ranges
from spine_synthseg.synthesis.sampling import check_interval, check_range, normal, uniform


@dataclass
class GenerationLabels:
    """labels: (B, H, W) generation label per pixel. tissue: (B, G) tissue class (0-3) of each label."""

    labels: torch.Tensor
    tissue: torch.Tensor


def generation_labels(structures: torch.Tensor, instances: torch.Tensor, regions: torch.Tensor, n_background: int,
                      max_instances: int) -> GenerationLabels:
    """Background regions, then instances (ids 1..K) as labels n_background .. n_background + K - 1."""
    if int(instances.max()) >= max_instances:
        raise ConfigError(f"A label map has instance id {int(instances.max())} >= synth.contrast.max_instances "
                          f"({max_instances}); raise it.")
    labels = torch.where(structures > 0, n_background + instances - 1, regions)
    tissue = torch.zeros((structures.shape[0], n_background + max_instances), dtype=torch.long, device=structures.device)
    tissue.scatter_(1, labels.flatten(1), structures.flatten(1))
    return GenerationLabels(labels, tissue)


@dataclass
class GMMParams:
    """Per image: class_means (B, 4); per generation label (B, G): instance offsets, background means, stds."""

    class_means: torch.Tensor
    offsets: torch.Tensor
    background_means: torch.Tensor
    stds: torch.Tensor


class RandomGMM:
    """t2_weight, uniform_mix: [a, b] within [0, 1]. std_range: [a, b] within [0, 0.5] (signal units).
    instance_spread: std of an instance's mean around its class mean (0-0.5). max_instances: instance ids per
    slice (G = n_background + max_instances labels). n_background is set by the generator from its
    BackgroundPartition."""

    def __init__(self, t2_weight=(0.0, 1.0), uniform_mix=(1.0, 1.0), std_range=(0.0, 0.06), instance_spread=0.1,
                 max_instances=128, n_background=1):
        self.t2_weight = check_interval("synth.contrast.t2_weight", t2_weight, 0, 1)
        self.uniform_mix = check_interval("synth.contrast.uniform_mix", uniform_mix, 0, 1)
        self.std_range = check_interval("synth.contrast.std_range", std_range, 0, 0.5)
        self.instance_spread = check_range("synth.contrast.instance_spread", instance_spread, 0, 0.5)
        self.max_instances = int(check_range("synth.contrast.max_instances", max_instances, 1, 4096))
        self.n_background = int(n_background)

    @property
    def enabled(self) -> bool:
        return True

    @property
    def n_labels(self) -> int:
        return self.n_background + self.max_instances

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> GMMParams:
        b, g = batch, self.n_labels
        w = uniform(*self.t2_weight, (b, 1, 1), generator, device)
        u = uniform(*self.uniform_mix, (b, 1, 1), generator, device)
        ranges = prior_ranges(w, u)  # (B, C, 2)
        class_means = uniform(ranges[..., 0], ranges[..., 1], (b, NUM_CLASSES), generator, device)
        offsets = self.instance_spread * normal((b, g), generator, device)
        # background regions are different tissues (fat, muscle, air): each draws from the whole background range
        background = uniform(ranges[:, 0, 0:1], ranges[:, 0, 1:2], (b, g), generator, device)
        stds = uniform(*self.std_range, (b, g), generator, device)
        return GMMParams(class_means, offsets, background, stds)

    @staticmethod
    def apply(params: GMMParams, x: GenerationLabels, generator=None) -> torch.Tensor:
        """(B, 1, H, W) image: x = mean[label] + std[label] * N(0, 1)."""
        means = params.class_means.gather(1, x.tissue) + params.offsets
        means = torch.where(x.tissue == 0, params.background_means, means).clamp(0, 1)
        flat = x.labels.flatten(1)
        mean = means.gather(1, flat).view_as(x.labels)
        std = params.stds.gather(1, flat).view_as(x.labels)
        return (mean + std * normal(x.labels.shape, generator, x.labels.device)).unsqueeze(1)
