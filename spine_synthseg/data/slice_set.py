"""A preprocessed stack of whole slices on one canvas: the in-memory and on-disk form the training datasets use."""

from __future__ import annotations

import os

from dataclasses import dataclass, fields
from pathlib import Path

import torch


@dataclass
class SliceSet:
    """N whole slices at one working spacing, slice i in the top-left (shapes[i]) of a common (H, W) canvas.

    image: float32 (N, H, W) in [0, 1], 0 outside the slice. structures: uint8 (N, H, W) classes.
    instances: int16 (N, H, W). bg_distance: uint8 (N, H, W) band index of the distance to the spine
    (background only, the farthest band outside the slice). clusters: uint8 (N, H, W) 1D k-means cluster of
    the real intensity within each pixel's class. tissue: uint8 (N, H, W) k-means tissue class of the real
    background (``labels.tissue_classes``; 0 inside the structures). shapes: int32 (N, 2) slice sizes (h, w) in pixels.
    annotated: bool (N, 3) per foreground structure. spacing_mm: the working spacing.
    """

    image: torch.Tensor
    structures: torch.Tensor
    instances: torch.Tensor
    bg_distance: torch.Tensor
    clusters: torch.Tensor
    tissue: torch.Tensor
    shapes: torch.Tensor
    annotated: torch.Tensor
    patient_ids: list[str]
    names: list[str]
    sequence: str
    source: str
    spacing_mm: float

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, indices: list[int]) -> "SliceSet":
        idx = torch.as_tensor(indices, dtype=torch.long)
        values = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, torch.Tensor):
                values[f.name] = v[idx]
            elif isinstance(v, list):
                values[f.name] = [v[i] for i in indices]
            else:
                values[f.name] = v
        return SliceSet(**values)

    def of_patients(self, patients: list[str]) -> "SliceSet":
        wanted = set(patients)
        return self.subset([i for i, p in enumerate(self.patient_ids) if p in wanted])

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["image"] = self.image.half()
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # one per process: parallel runs may build the same cache
        torch.save(state, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "SliceSet":
        state = torch.load(path, weights_only=False)
        state["image"] = state["image"].float()
        return cls(**state)
