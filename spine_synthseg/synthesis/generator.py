"""SpineSynthGenerator: label map -> random MRI, stages in SynthSeg's order.

spatial (labels, nearest) -> GMM intensities per instance -> bias field -> normalise + gamma ->
noise / motion artifacts -> resolution (blur 0.75 r, down, up). Every stage samples its parameters
with the given torch.Generator and applies them deterministically; tensors stay on the input's device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from spine_synthseg.data.instances import connected_component_instances
from spine_synthseg.data.preprocess import PreprocessConfig, background_distance_bands
from spine_synthseg.synthesis.artifacts import RandomMotion, RandomNoise
from spine_synthseg.synthesis.bias import RandomBiasField
from spine_synthseg.synthesis.contrast import RandomGMM
from spine_synthseg.synthesis.intensity import RandomGamma, minmax
from spine_synthseg.synthesis.resolution import RandomResolution
from spine_synthseg.synthesis.spatial import RandomSpatial
from spine_synthseg.synthesis.strength import apply_strength


@dataclass
class SynthOutput:
    image: torch.Tensor  # (B, 1, H, W) in [0, 1]
    structures: torch.Tensor  # (B, H, W) deformed with the image


class SpineSynthGenerator:
    """Build from a config mapping with keys spatial, contrast, background, intensity, artifact, resolution
    (the Hydra groups of the same names), spacing_mm, size, and optional strength (0-1, overrides the presets;
    see strength.py). Missing keys take the stage defaults.
    """

    def __init__(self, config: dict[str, Any] | None = None):
        cfg = apply_strength(dict(config or {}))
        spacing, size = float(cfg.get("spacing_mm", 1.5)), tuple(cfg.get("size", (160, 128)))
        art = dict(cfg.get("artifact") or {})
        bg = dict(cfg.get("background") or {})
        self.spatial = RandomSpatial(**dict(cfg.get("spatial") or {}), spacing_mm=spacing, size=size)
        self.gmm = RandomGMM(**dict(cfg.get("contrast") or {}), background_mode=bg.get("mode", "distance_random"),
                             n_random=bg.get("n_random", 3))
        self.bias = RandomBiasField(art.get("bias_std", 0.5), art.get("bias_grid", 4))
        self.gamma = RandomGamma(**dict(cfg.get("intensity") or {}))
        self.noise = RandomNoise(art.get("noise_std", 0.05), art.get("rician_prob", 0.5))
        self.motion = RandomMotion(art.get("motion_prob", 0.3), art.get("motion_max_shift_mm", 5.0),
                                   art.get("motion_max_events", 3), spacing)
        self.resolution = RandomResolution(**dict(cfg.get("resolution") or {}), spacing_mm=spacing)
        self.spacing_mm, self.size, self.config = spacing, size, cfg

    @torch.no_grad()
    def generate_batch(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> SynthOutput:
        """Synthesise a batch from label maps on any device.

        batch: "structures" (B, H, W) classes, "instances" (B, H, W) ids, and "bg_distance" / "bg_clusters"
        (B, H, W) when the background mode needs them. Returns images and the deformed structure labels.
        """
        if "image" in batch:
            raise RuntimeError("generate_batch got a batch with an image: the generator must only see label maps.")
        s = batch["structures"]
        b, dev = s.shape[0], s.device
        names = [k for k in ("structures", "instances", "bg_distance", "bg_clusters") if k in batch]
        if self.spatial.enabled:
            stacked = torch.stack([batch[k] for k in names], 1)
            deformed = self.spatial.apply(self.spatial.sample(b, generator, dev, s.shape[-2:]), stacked)
            batch = {k: deformed[:, i] for i, k in enumerate(names)}
        regions = self.gmm.background_regions(batch, generator)
        labels, tissue = self.gmm.generation_labels(batch, regions)
        image = self.gmm.apply(self.gmm.sample(tissue, generator), labels, generator)
        if self.bias.max_std > 0:
            image = self.bias.apply(self.bias.sample(b, generator, dev), image)
        image = self.gamma.apply(self.gamma.sample(b, generator, dev), image)
        if self.noise.max_std > 0:
            image = self.noise.apply(self.noise.sample(b, generator, dev), image, generator)
        if self.motion.prob > 0 and self.motion.max_shift_mm > 0:
            image = self.motion.apply(self.motion.sample(b, image.shape[-2:], generator, dev), image)
        if self.resolution.prob > 0:
            image = self.resolution.apply(self.resolution.sample(b, generator, dev), image, generator)
        return SynthOutput(image=minmax(image), structures=batch["structures"])

    def generate_synthetic_mri(self, label_map, generator: torch.Generator | None = None,
                               instances=None) -> torch.Tensor:
        """One random MRI (H, W) in [0, 1] from a 2D structure label map (values 0-3, numpy or torch).

        instances: optional (H, W) instance ids; by default each connected component is one instance.
        The background distance bands are computed here on the CPU (the batched path takes them precomputed).
        """
        labels = torch.as_tensor(np.asarray(label_map.cpu() if torch.is_tensor(label_map) else label_map))
        if labels.ndim != 2:
            raise ValueError(f"label_map must be 2D (H, W), got shape {tuple(labels.shape)}.")
        if labels.min() < 0 or labels.max() > 3:
            raise ValueError(f"label_map values must be 0-3 (background, vertebra, disc, canal), got {labels.unique().tolist()}.")
        s_np = labels.numpy().astype(np.uint8)
        inst = connected_component_instances(s_np) if instances is None else np.asarray(instances)
        device = label_map.device if torch.is_tensor(label_map) else torch.device("cpu")
        batch = {
            "structures": labels.long()[None],
            "instances": torch.as_tensor(inst).long()[None],
            "bg_distance": torch.from_numpy(background_distance_bands(s_np, self.spacing_mm, PreprocessConfig.distance_bands_mm))
            .long()[None],
            "bg_clusters": torch.zeros_like(labels).long()[None],
        }
        batch = {k: v.to(device) for k, v in batch.items()}
        return self.generate_batch(batch, generator).image[0, 0]
