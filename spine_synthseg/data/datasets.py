"""Torch datasets over a SliceSet: real image slices, or label maps only (for synthetic training)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from spine_synthseg.data.slice_set import SliceSet


class RealSliceDataset(Dataset):
    """Real images with their structure labels: {"image": (1, H, W), "structures": (H, W), "annotated": (3,)}."""

    def __init__(self, slices: SliceSet) -> None:
        self.slices = slices

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, i: int) -> dict:
        s = self.slices
        return {
            "image": s.image[i][None],
            "structures": s.structures[i].long(),
            "annotated": s.annotated[i],
        }


class LabelMapDataset(Dataset):
    """Label maps only, for Model A: the real images are not copied into this dataset at all.

    Items: {"structures": (H, W), "instances": (H, W), "bg_distance": (H, W), "bg_clusters": (H, W)}.
    """

    def __init__(self, slices: SliceSet) -> None:
        self.structures = slices.structures
        self.instances = slices.instances
        self.bg_distance = slices.bg_distance
        self.bg_clusters = slices.bg_clusters

    def __len__(self) -> int:
        return self.structures.shape[0]

    def __getitem__(self, i: int) -> dict:
        return {
            "structures": self.structures[i].long(),
            "instances": self.instances[i].long(),
            "bg_distance": self.bg_distance[i].long(),
            "bg_clusters": self.bg_clusters[i].long(),
        }


def labels_only_batch(batch: dict) -> dict:
    """Assert a batch carries no image (guard used before synthesis)."""
    if "image" in batch:
        raise RuntimeError("A label-map batch carries an image: real images must never reach synthetic training.")
    return batch


def stack_label_maps(slices: SliceSet, indices: list[int] | None = None) -> dict[str, torch.Tensor]:
    """The label-map fields of `slices` as one batch (for fixed synthetic validation sets)."""
    ds = LabelMapDataset(slices)
    idx = range(len(ds)) if indices is None else indices
    items = [ds[i] for i in idx]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
