"""SpineSynthGenerator: label map -> random MRI, stages in SynthSeg's order.

  spatial (labels, nearest) -> background partition -> absence (anatomy beside the spine) -> distractors ->
  GMM intensities per label ->
  structure sub-regions -> bias field -> normalise + gamma -> noise -> motion ->
  resolution (blur sigma = 0.75 r, down, up)

Each stage follows ``stage.Stage``: it samples its parameters with the caller's torch.Generator and applies
them deterministically; a disabled stage draws nothing. Tensors stay on the input's device. Labels stay at the
working resolution: only the image is degraded.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from hydra.utils import instantiate

from spine_synthseg.errors import ConfigError
from spine_synthseg.labels import background_distance_bands, connected_component_instances
from spine_synthseg.synthesis.absence import SpineAbsence
from spine_synthseg.synthesis.background import BackgroundPartition
from spine_synthseg.synthesis.bias import RandomBiasField
from spine_synthseg.synthesis.distractors import RandomDistractors
from spine_synthseg.synthesis.gamma import RandomGamma, minmax
from spine_synthseg.synthesis.gmm import RandomGMM, generation_labels
from spine_synthseg.synthesis.motion import RandomMotion
from spine_synthseg.synthesis.noise import RandomNoise
from spine_synthseg.synthesis.resolution import RandomResolution
from spine_synthseg.synthesis.sampling import check_interval
from spine_synthseg.synthesis.spatial import RandomSpatial
from spine_synthseg.synthesis.subregions import StructureSubregions
from spine_synthseg.tensors import quantile

# stage name (= config key under `synth`) -> default class, in application order
STAGES = {"spatial": RandomSpatial, "background": BackgroundPartition, "absence": SpineAbsence,
          "distractors": RandomDistractors,
          "contrast": RandomGMM, "subregions": StructureSubregions, "bias": RandomBiasField, "gamma": RandomGamma,
          "noise": RandomNoise, "motion": RandomMotion, "resolution": RandomResolution}
LABEL_KEYS = ("structures", "instances", "bg_distance", "clusters", "tissue")


@dataclass
class SynthOutput:
    image: torch.Tensor  # (B, 1, H, W) in [0, 1]
    structures: torch.Tensor  # (B, H, W) deformed with the image


class SpineSynthGenerator:
    """The stages, each built from its config node (``conf/<group>/*.yaml``, keys = constructor arguments).

    With Hydra: ``hydra.utils.instantiate(cfg.synth)``; from the presets: ``SpineSynthGenerator.from_presets([...])``.
    Stages left out take their class's defaults, which equal the default presets (tests/test_generator.py).
    spacing_mm: the working pixel spacing (mm) of the label maps. output_percentiles: None -> the output is
    min-max normalised to [0, 1]; [lo, hi] -> those per-image percentiles map to [0, 1], clipped, like real
    slices (``preprocess.percentiles``; normalisation parity, approximate: per generated crop, whereas real
    slices are normalised over the whole slice).
    """

    def __init__(self, spatial: RandomSpatial | None = None, background: BackgroundPartition | None = None,
                 contrast: RandomGMM | None = None, distractors: RandomDistractors | None = None,
                 subregions: StructureSubregions | None = None,
                 bias: RandomBiasField | None = None, gamma: RandomGamma | None = None,
                 noise: RandomNoise | None = None, motion: RandomMotion | None = None,
                 resolution: RandomResolution | None = None, absence: SpineAbsence | None = None, *,
                 spacing_mm: float,
                 output_percentiles: tuple[float, float] | None = None):
        self.spacing_mm = float(spacing_mm)
        self.output_percentiles = None if output_percentiles is None else \
            check_interval("synth.output_percentiles", output_percentiles, 0, 100)
        self.spatial = spatial or RandomSpatial(spacing_mm=self.spacing_mm)
        self.background = background or BackgroundPartition(spacing_mm=self.spacing_mm)
        self.absence = absence or SpineAbsence(spacing_mm=self.spacing_mm)
        self.distractors = distractors or RandomDistractors(spacing_mm=self.spacing_mm)
        self.contrast = copy.copy(contrast or RandomGMM())
        self.contrast.n_background = self.background.n_regions  # generation labels: background regions first
        self.subregions = subregions or StructureSubregions(spacing_mm=self.spacing_mm)
        self.image_stages = [bias or RandomBiasField(), gamma or RandomGamma(), noise or RandomNoise(),
                             motion or RandomMotion(spacing_mm=self.spacing_mm),
                             resolution or RandomResolution(spacing_mm=self.spacing_mm)]

    @classmethod
    def from_presets(cls, overrides: Sequence[str] = ()) -> "SpineSynthGenerator":
        """The generator that the project's YAML describes (conf/: the groups spatial ... resolution, the one
        source of its defaults; experiment=model_a, which needs a label map only), with Hydra overrides of those
        groups or keys, e.g. ``["contrast=t1_like", "artifact=none", "synth.bias.max_std=0.8"]``. The shipped Model
        A's recipe (data=synth) adds stages that read tissue and cluster maps of its preprocessing."""
        from spine_synthseg.config import compose_config  # the config layer composes conf/ for scripts and apps

        return instantiate(compose_config(["experiment=model_a", *overrides]).synth)

    @torch.no_grad()
    def generate_batch(self, batch: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> SynthOutput:
        """Synthesise a batch from label maps on any device.

        batch: "structures" (B, H, W) classes, "instances" (B, H, W) ids, and "bg_distance" / "clusters" /
        "tissue" (B, H, W) when the background mode, the distractors or the sub-region mode (real_clusters) need
        them. Returns images and the deformed structure labels.
        """
        if "image" in batch:
            raise RuntimeError("generate_batch got a batch with an image: the generator must only see label maps.")
        s = batch["structures"]
        b, size, dev = s.shape[0], tuple(s.shape[-2:]), s.device
        if self.spatial.enabled:
            names = [k for k in LABEL_KEYS if k in batch]
            params = self.spatial.sample(b, size, generator, dev)
            deformed = self.spatial.apply(params, torch.stack([batch[k] for k in names], 1))
            batch = {k: deformed[:, i] for i, k in enumerate(names)}
        if self.absence.enabled:
            absence = self.absence.sample(b, size, generator, dev)
            batch = self.absence.apply(absence, batch)
        regions = self.background.apply(self.background.sample(b, size, generator, dev), batch)
        if self.absence.enabled:
            regions = self.absence.paint(absence, regions, batch, self.background.n_regions)
        labels = generation_labels(batch["structures"], batch["instances"], regions, self.background.n_regions,
                                   self.contrast.max_instances)
        if self.distractors.enabled:
            if "bg_distance" not in batch:
                raise ConfigError("synth.distractors needs the batch key 'bg_distance'; use label maps from a SliceSet.")
            params = self.distractors.sample(b, size, generator, dev)
            labels = self.distractors.apply(params, labels, batch["structures"], batch["bg_distance"])
        image = self.contrast.apply(self.contrast.sample(b, size, generator, dev), labels, generator)
        if self.subregions.enabled:
            params = self.subregions.sample(b, size, generator, dev)
            if self.subregions.mode == "real_clusters" and "clusters" not in batch:
                raise ConfigError("synth.subregions.mode=real_clusters needs the batch key 'clusters' (per-class "
                                  "k-means of real intensities, from preprocessing); use label maps from a SliceSet.")
            clusters = batch.get("clusters", torch.zeros_like(batch["structures"]))  # unused by mode anatomy
            image = self.subregions.apply(params, (image, batch["structures"], clusters), generator)
        for stage in self.image_stages:
            if stage.enabled:
                image = stage.apply(stage.sample(b, size, generator, dev), image, generator)
        return SynthOutput(image=self._normalise(image), structures=batch["structures"])

    def _normalise(self, image: torch.Tensor) -> torch.Tensor:
        if self.output_percentiles is None:
            return minmax(image)
        q = torch.tensor(self.output_percentiles, device=image.device) / 100
        lo, hi = quantile(image.flatten(1), q, dim=1).view(2, -1, 1, 1, 1)
        return ((image - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)

    def generate_synthetic_mri(self, label_map, generator: torch.Generator | None = None,
                               instances=None) -> torch.Tensor:
        """One random MRI (H, W) in [0, 1] from a 2D structure label map (values 0-3, numpy or torch) at
        ``spacing_mm``.

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
            "bg_distance": torch.from_numpy(background_distance_bands(s_np, self.spacing_mm)).long()[None],
            "clusters": torch.zeros_like(labels).long()[None],
            "tissue": torch.zeros_like(labels).long()[None],
        }
        batch = {k: v.to(device) for k, v in batch.items()}
        return self.generate_batch(batch, generator).image[0, 0]
