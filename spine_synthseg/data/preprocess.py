"""Resample whole slices to one working spacing (mm), normalise intensities robustly, stack them on one canvas."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spine_synthseg.data.parallel import thread_map
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.data.slice_set import SliceSet
from spine_synthseg.errors import DataError
from spine_synthseg.labels import DISTANCE_BANDS_MM, background_distance_bands, intensity_clusters, tissue_classes
from spine_synthseg.tensors import quantile


@dataclass(frozen=True)
class PreprocessConfig:
    """spacing_mm: working pixel spacing (0.3-4 mm). size: (H, W) of the training crop in pixels, multiples of 16.
    percentiles: intensity percentiles mapped to 0 and 1. distance_bands_mm: edges of the background
    distance bands. n_clusters: k of the 1D k-means on the real intensities of each class. n_tissue: k of the
    background tissue classes (``labels.tissue_classes``, 1-16; 0: not computed, all 0)."""

    spacing_mm: float  # no defaults here: conf/config.yaml's preprocess node is the one source
    size: tuple[int, int]
    percentiles: tuple[float, float]
    distance_bands_mm: tuple[float, ...] = DISTANCE_BANDS_MM
    n_clusters: int = 4
    n_tissue: int = 0

    def __post_init__(self) -> None:
        if not 0.3 <= self.spacing_mm <= 4.0:
            raise DataError(f"preprocess.spacing_mm={self.spacing_mm} is out of range [0.3, 4] mm.")
        if len(self.size) != 2 or any(s % 16 or s < 32 for s in self.size):
            raise DataError(f"preprocess.size={list(self.size)} must be two multiples of 16, at least 32.")
        lo, hi = self.percentiles
        if not 0 <= lo < hi <= 100:
            raise DataError(f"preprocess.percentiles={list(self.percentiles)} must satisfy 0 <= lo < hi <= 100.")
        if not 0 <= self.n_tissue <= 16 or not 1 <= self.n_clusters <= 16:
            raise DataError(f"preprocess.n_tissue={self.n_tissue} must be in 0-16 and n_clusters={self.n_clusters} in 1-16.")

    @classmethod
    def from_dict(cls, preprocess: dict) -> "PreprocessConfig":
        """From a plain config dict (the ``preprocess`` node; lists become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in preprocess.items()})


def resample(array: np.ndarray, spacing_mm: tuple[float, float], target_mm: float, labels: bool) -> torch.Tensor:
    """Resample a 2D array from spacing_mm to target_mm: antialiased bilinear for images, nearest for labels."""
    h, w = array.shape
    size = (max(1, round(h * spacing_mm[0] / target_mm)), max(1, round(w * spacing_mm[1] / target_mm)))
    x = torch.from_numpy(np.ascontiguousarray(array)).float()[None, None]
    if labels:
        return F.interpolate(x, size=size, mode="nearest-exact")[0, 0]
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0]


def normalise(image: torch.Tensor, percentiles: tuple[float, float]) -> torch.Tensor:
    """Map the given intensity percentiles to [0, 1] and clip."""
    lo, hi = quantile(image.flatten(), torch.tensor(percentiles) / 100.0)
    return ((image - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)


def pad_to(x: torch.Tensor, size: tuple[int, int], value: float = 0) -> torch.Tensor:
    """(H, W) -> `size`, the slice in the top-left corner, padded with `value` (size >= the slice)."""
    return F.pad(x, (0, size[1] - x.shape[1], 0, size[0] - x.shape[0]), value=value)


def canvas_size(shapes: list[tuple[int, int]], crop: tuple[int, int], multiple: int = 16) -> tuple[int, int]:
    """The smallest (H, W) holding every slice and the training crop, in multiples of `multiple` pixels."""
    h = max([crop[0]] + [s[0] for s in shapes])
    w = max([crop[1]] + [s[1] for s in shapes])
    return -(-h // multiple) * multiple, -(-w // multiple) * multiple


def _preprocess_one(rec: SliceRecord, cfg: PreprocessConfig) -> tuple[torch.Tensor, ...]:
    """(image, structures, instances, distance bands, intensity clusters, tissue classes) of one slice at
    cfg.spacing_mm."""
    image = normalise(resample(rec.image, rec.spacing_mm, cfg.spacing_mm, labels=False), cfg.percentiles)
    structures = resample(rec.structures, rec.spacing_mm, cfg.spacing_mm, labels=True).to(torch.uint8)
    instances = resample(rec.instances, rec.spacing_mm, cfg.spacing_mm, labels=True)
    if not structures.any():
        raise DataError(f"{rec.source}/{rec.name}: no foreground left after resampling to {cfg.spacing_mm} mm.")
    instances = torch.unique(instances, return_inverse=True)[1].to(torch.int16)  # consecutive ids, 0 = background
    s_np = structures.numpy()
    bands = torch.from_numpy(background_distance_bands(s_np, cfg.spacing_mm, cfg.distance_bands_mm))
    clusters = torch.from_numpy(intensity_clusters(image.numpy(), s_np, cfg.n_clusters))
    tissue = torch.from_numpy(tissue_classes(image.numpy(), s_np, cfg.n_tissue)) if cfg.n_tissue else \
        torch.zeros_like(structures)
    return image, structures, instances, bands, clusters, tissue


def preprocess_records(records: list[SliceRecord], cfg: PreprocessConfig) -> SliceSet:
    """Whole slices at cfg.spacing_mm (no crop), each in the top-left corner of one common canvas.

    Images: antialiased bilinear resampling, then percentile normalisation to [0, 1]. Labels: nearest.
    The canvas holds every slice and at least one training crop (cfg.size); `shapes` keeps each slice's size.
    """
    if not records:
        raise DataError("No slices to preprocess; check the data source settings.")
    slices = thread_map(lambda rec: _preprocess_one(rec, cfg), records)  # in order
    shapes = [tuple(s[0].shape) for s in slices]
    canvas = canvas_size(shapes, cfg.size)
    far = len(cfg.distance_bands_mm)  # outside the field of view: the farthest distance band
    stacked = [torch.stack([pad_to(s[i], canvas, far if i == 3 else 0) for s in slices]) for i in range(6)]
    return SliceSet(
        *stacked,
        shapes=torch.tensor(shapes, dtype=torch.int32),
        annotated=torch.tensor([r.annotated for r in records], dtype=torch.bool),
        patient_ids=[r.patient_id for r in records],
        names=[r.name for r in records],
        sequence=records[0].sequence,
        source=records[0].source,
        spacing_mm=cfg.spacing_mm,
    )
