"""Torch datasets: real whole slices on a canvas, label maps only (synthetic training), native slices (validation)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from spine_synthseg.data.records import SliceRecord
from spine_synthseg.data.slice_set import SliceSet


class RealSliceDataset(Dataset):
    """Real images with their labels on the canvas: {"image": (1, H, W), "structures": uint8 (H, W), "annotated":
    (3,), "shape": (2,) the slice's (h, w)}. The crop (``training.crops``) returns the labels as int64."""

    def __init__(self, slices: SliceSet) -> None:
        self.slices = slices

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, i: int) -> dict:
        s = self.slices
        return {"image": s.image[i][None], "structures": s.structures[i], "annotated": s.annotated[i],
                "shape": s.shapes[i].long()}


class LabelMapDataset(Dataset):
    """Label maps only, for Model A: the real images are not copied into this dataset at all.

    Items: {"structures", "instances", "bg_distance", "clusters", "tissue": (H, W) in their stored integer dtypes
    (uint8 / int16: a batch is collated and cropped in 4-8x fewer bytes; the crop returns them as int64),
    "shape": (2,)}.
    """

    def __init__(self, slices: SliceSet) -> None:
        self.structures = slices.structures
        self.instances = slices.instances
        self.bg_distance = slices.bg_distance
        self.clusters = slices.clusters
        self.tissue = slices.tissue
        self.shapes = slices.shapes

    def __len__(self) -> int:
        return self.structures.shape[0]

    def __getitem__(self, i: int) -> dict:
        return {"structures": self.structures[i], "instances": self.instances[i], "bg_distance": self.bg_distance[i],
                "clusters": self.clusters[i], "tissue": self.tissue[i], "shape": self.shapes[i].long()}


class NativeSliceDataset(Dataset):
    """Whole raw slices at their native grid, one per item (use batch_size=None): {"image": float32 (h, w) numpy,
    "structures": uint8 (h, w) numpy, "spacing_mm": (row, col), "annotated": bool (3,) tensor, "name": str}."""

    def __init__(self, records: list[SliceRecord]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        r = self.records[i]
        return {"image": np.asarray(r.image, np.float32), "structures": r.structures, "spacing_mm": r.spacing_mm,
                "annotated": torch.tensor(r.annotated), "name": r.name}


def labels_only_batch(batch: dict) -> dict:
    """Assert a batch carries no image (guard used before synthesis)."""
    if "image" in batch:
        raise RuntimeError("A label-map batch carries an image: real images must never reach synthetic training.")
    return batch


def stack_label_maps(slices: SliceSet, indices: list[int] | None = None) -> dict[str, torch.Tensor]:
    """The label-map fields of `slices` as one int64 batch (for fixed synthetic validation sets)."""
    ds = LabelMapDataset(slices)
    idx = range(len(ds)) if indices is None else indices
    items = [ds[i] for i in idx]
    return {k: torch.stack([it[k] for it in items]).long() for k in items[0]}
