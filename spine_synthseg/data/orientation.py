"""Sagittal slicing of 3D volumes: one SagittalLayout, its forward (volume -> slices) and inverse.

The sagittal axis is found from the image direction cosines (the index axis most aligned with the
patient's left-right axis, LPS x), never assumed; slices come out head up (row 0 superior) and anterior
left (column 0 anterior). ``from_slices`` undoes ``to_slices`` exactly, so a label stack made on the
slices can be written back with the input's geometry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from spine_synthseg.errors import DataError

log = logging.getLogger(__name__)
MIN_SAGITTAL_COSINE = float(np.cos(np.deg2rad(45)))  # the sagittal axis must lie within 45 degrees of left-right


@dataclass(frozen=True)
class SagittalLayout:
    """Index axes (ITK order x, y, z) of the sagittal, vertical and anteroposterior directions, the flips
    that bring rows to superior -> inferior and columns to anterior -> posterior, and the in-plane pixel
    spacing (row, col) in mm."""

    sagittal: int
    vertical: int
    ap: int
    flip_vertical: bool
    flip_ap: bool
    spacing_rc_mm: tuple[float, float]

    @classmethod
    def of(cls, image: sitk.Image, name: str = "the volume") -> "SagittalLayout":
        """Layout of a 3D image. Direction column i is the LPS direction of index axis i: the sagittal axis is the
        one most aligned with x (left-right), vertical the one most aligned with z (inferior-superior). A volume
        with no index axis within 45 degrees of left-right (an oblique axial or coronal stack) has no sagittal
        slices to segment: DataError naming `name`."""
        if image.GetDimension() != 3:
            raise DataError(f"{name} is a {image.GetDimension()}D image, not a 3D volume; give a volume (or a PNG folder "
                            f"for 2D slices).")
        direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
        sagittal = int(np.argmax(np.abs(direction[0])))
        if abs(direction[0, sagittal]) < MIN_SAGITTAL_COSINE:
            raise DataError(f"{name} has no sagittal axis: no index axis lies within 45 degrees of left-right "
                            f"(direction {np.round(direction, 2).tolist()}); reslice it to sagittal slices first.")
        rest = [a for a in range(3) if a != sagittal]
        vertical = max(rest, key=lambda a: abs(direction[2, a]))
        ap = next(a for a in rest if a != vertical)
        spacing = image.GetSpacing()
        if spacing[sagittal] < max(spacing[vertical], spacing[ap]):
            log.debug("sagittal axis %d is not the thickest (spacing %s)", sagittal, spacing)
        return cls(sagittal, vertical, ap,
                   flip_vertical=bool(direction[2, vertical] > 0),  # index grows superior: flip so row 0 is top
                   flip_ap=bool(direction[1, ap] < 0),  # LPS y grows posterior: columns go anterior -> posterior
                   spacing_rc_mm=(float(spacing[vertical]), float(spacing[ap])))

    @property
    def _order(self) -> tuple[int, int, int]:
        return self.sagittal, self.vertical, self.ap

    def to_slices(self, volume: sitk.Image) -> np.ndarray:
        """(S, H, W) stack of sagittal slices of `volume` (the image or a mask on the same grid)."""
        arr = sitk.GetArrayFromImage(volume).transpose(2, 1, 0).transpose(self._order)  # (z,y,x) -> index -> (S,H,W)
        if self.flip_vertical:
            arr = arr[:, ::-1]
        if self.flip_ap:
            arr = arr[:, :, ::-1]
        return np.ascontiguousarray(arr)

    def from_slices(self, stack: np.ndarray, reference: sitk.Image) -> sitk.Image:
        """The inverse of ``to_slices``: an image on `reference`'s grid (origin, spacing, direction) from (S, H, W)."""
        if self.flip_ap:
            stack = stack[:, :, ::-1]
        if self.flip_vertical:
            stack = stack[:, ::-1]
        arr = stack.transpose(np.argsort(self._order)).transpose(2, 1, 0)  # back to index order, then (z, y, x)
        out = sitk.GetImageFromArray(np.ascontiguousarray(arr))
        out.CopyInformation(reference)
        return out
