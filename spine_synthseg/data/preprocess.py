"""Resample slices to one working spacing (mm), normalise intensities robustly, crop/pad to one size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from spine_synthseg.data.records import SliceRecord
from spine_synthseg.data.slice_set import SliceSet
from spine_synthseg.errors import DataError
from spine_synthseg.labels import DISTANCE_BANDS_MM, background_distance_bands, background_intensity_clusters


@dataclass(frozen=True)
class PreprocessConfig:
    """spacing_mm: working pixel spacing (0.3-4 mm). size: (H, W) in pixels, multiples of 16.
    percentiles: intensity percentiles mapped to 0 and 1. distance_bands_mm: edges of the background
    distance bands. n_clusters: k of the 1D k-means on real background intensities."""

    spacing_mm: float = 1.5
    size: tuple[int, int] = (160, 128)
    percentiles: tuple[float, float] = (0.5, 99.5)
    distance_bands_mm: tuple[float, ...] = DISTANCE_BANDS_MM
    n_clusters: int = 4

    def __post_init__(self) -> None:
        if not 0.3 <= self.spacing_mm <= 4.0:
            raise DataError(f"data.preprocess.spacing_mm={self.spacing_mm} is out of range [0.3, 4] mm.")
        if len(self.size) != 2 or any(s % 16 or s < 32 for s in self.size):
            raise DataError(f"data.preprocess.size={list(self.size)} must be two multiples of 16, at least 32.")
        lo, hi = self.percentiles
        if not 0 <= lo < hi <= 100:
            raise DataError(f"data.preprocess.percentiles={list(self.percentiles)} must satisfy 0 <= lo < hi <= 100.")

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
    lo, hi = torch.quantile(image.flatten(), torch.tensor(percentiles) / 100.0)
    return ((image - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)


def crop_or_pad(x: torch.Tensor, size: tuple[int, int], centre: tuple[int, int]) -> torch.Tensor:
    """Window of `size` centred on `centre` (row, col), zero-padded where it leaves the image."""
    out = torch.zeros(size, dtype=x.dtype)
    top, left = centre[0] - size[0] // 2, centre[1] - size[1] // 2
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + size[0], x.shape[0]), min(left + size[1], x.shape[1])
    out[r0 - top : r1 - top, c0 - left : c1 - left] = x[r0:r1, c0:c1]
    return out


def preprocess_records(records: list[SliceRecord], cfg: PreprocessConfig) -> SliceSet:
    """Turn records into a SliceSet at cfg.spacing_mm and cfg.size."""
    if not records:
        raise DataError("No slices to preprocess; check the data source settings.")
    out = {k: [] for k in ("image", "structures", "instances", "bg_distance", "bg_clusters")}
    for rec in records:
        image = normalise(resample(rec.image, rec.spacing_mm, cfg.spacing_mm, labels=False), cfg.percentiles)
        structures = resample(rec.structures, rec.spacing_mm, cfg.spacing_mm, labels=True)
        instances = resample(rec.instances, rec.spacing_mm, cfg.spacing_mm, labels=True)
        rows, cols = torch.nonzero(structures > 0, as_tuple=True)
        if rows.numel() == 0:
            raise DataError(f"{rec.source}/{rec.name}: no foreground left after resampling to {cfg.spacing_mm} mm.")
        centre = (int(rows.min() + rows.max()) // 2, int(cols.min() + cols.max()) // 2)
        image, structures, instances = (crop_or_pad(t, cfg.size, centre) for t in (image, structures, instances))
        instances = torch.unique(instances, return_inverse=True)[1]  # consecutive ids, 0 = background
        s_np = structures.numpy().astype(np.uint8)
        out["image"].append(image)
        out["structures"].append(structures.to(torch.uint8))
        out["instances"].append(instances.to(torch.int16))
        out["bg_distance"].append(torch.from_numpy(background_distance_bands(s_np, cfg.spacing_mm, cfg.distance_bands_mm)))
        out["bg_clusters"].append(torch.from_numpy(background_intensity_clusters(image.numpy(), s_np, cfg.n_clusters)))
    return SliceSet(
        **{k: torch.stack(v) for k, v in out.items()},
        annotated=torch.tensor([r.annotated for r in records], dtype=torch.bool),
        patient_ids=[r.patient_id for r in records],
        names=[r.name for r in records],
        sequence=records[0].sequence,
        source=records[0].source,
        spacing_mm=cfg.spacing_mm,
    )
