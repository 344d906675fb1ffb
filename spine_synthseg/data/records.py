"""One 2D sagittal slice with its labels, as every reader returns it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spine_synthseg.errors import DataError
from spine_synthseg.structures import FOREGROUND


@dataclass
class SliceRecord:
    """A 2D sagittal slice, oriented head up and anterior left.

    image: float32 (H, W) raw intensities.
    structures: uint8 (H, W) class indices (0 background, 1 vertebra, 2 disc, 3 canal).
    instances: int32 (H, W) instance ids, 0 = background; each vertebra / disc level (or connected
        component where levels are unknown) has its own id, unique within the slice.
    spacing_mm: (row, col) pixel spacing in millimetres.
    annotated: per foreground structure, whether it is annotated in this slice. A structure that is
        visible but not annotated (e.g. the canal in part of the T2 TSE set) is excluded from metrics.
    series: the series (acquisition) the slice belongs to; the patient id when empty.
    tags: per-series facts from the dataset (e.g. sequence, appearance) used to group results.
    """

    image: np.ndarray
    structures: np.ndarray
    instances: np.ndarray
    spacing_mm: tuple[float, float]
    patient_id: str
    sequence: str
    source: str
    name: str
    annotated: tuple[bool, ...] = field(default=(True,) * len(FOREGROUND))
    series: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.image.shape != self.structures.shape or self.image.shape != self.instances.shape:
            raise DataError(
                f"{self.source}/{self.name}: image {self.image.shape}, structures {self.structures.shape} "
                f"and instances {self.instances.shape} differ in shape; image and mask must be the same size."
            )
        if not self.series:
            self.series = self.patient_id
        if min(self.spacing_mm) <= 0:
            raise DataError(f"{self.source}/{self.name}: pixel spacing {self.spacing_mm} mm must be positive.")
