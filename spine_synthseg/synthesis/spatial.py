"""Stage 1: random affine + smooth elastic deformation of label maps (nearest neighbour), no flips.

Also Model B's spatial augmentation of real images (``apply_image``, bilinear), so both models see the same
geometric variation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spine_synthseg.synthesis.sampling import check_range, normal, uniform


@dataclass
class SpatialParams:
    """theta: (B, 2, 3) affine in normalised coordinates; displacement: (B, 2, g, g) coarse elastic field
    in normalised units (x, y), upsampled bilinearly to the image size."""

    theta: torch.Tensor
    displacement: torch.Tensor


class RandomSpatial:
    """Random affine and elastic deformation.

    rotation_deg: max |angle| (0-45). scaling: max |s - 1| (0-0.5). shear: max |shear| (0-0.5).
    translation: max |shift| as a fraction of the field of view (0-0.3).
    elastic_std_mm: std of the coarse displacement in mm (0-20). elastic_grid: control points per axis (2-16).
    spacing_mm: the working pixel spacing (mm) that converts elastic_std_mm to pixels.
    The sampling grid is p' = A p + t + u(p), u the bilinear upsampling of the coarse N(0, sigma^2) field.
    0 everywhere disables the stage (identity).
    """

    def __init__(self, rotation_deg=10.0, scaling=0.15, shear=0.05, translation=0.05, elastic_std_mm=3.0,
                 elastic_grid=5, *, spacing_mm):
        self.rotation = math.radians(check_range("synth.spatial.rotation_deg", rotation_deg, 0, 45))
        self.scaling = check_range("synth.spatial.scaling", scaling, 0, 0.5)
        self.shear = check_range("synth.spatial.shear", shear, 0, 0.5)
        self.translation = check_range("synth.spatial.translation", translation, 0, 0.3)
        self.elastic_std_mm = check_range("synth.spatial.elastic_std_mm", elastic_std_mm, 0, 20)
        self.grid = int(check_range("synth.spatial.elastic_grid", elastic_grid, 2, 16))
        self.spacing_mm = spacing_mm

    @property
    def enabled(self) -> bool:
        return any((self.rotation, self.scaling, self.shear, self.translation, self.elastic_std_mm))

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> SpatialParams:
        u = lambda m: uniform(-m, m, (batch,), generator, device)  # noqa: E731
        angle, sy, sx, shear, ty, tx = u(self.rotation), 1 + u(self.scaling), 1 + u(self.scaling), u(self.shear), \
            u(2 * self.translation), u(2 * self.translation)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack(
            [torch.stack([sx * cos, -sx * sin + shear, tx], -1), torch.stack([sy * sin, sy * cos, ty], -1)], 1
        )
        h, w = size
        # mm -> normalised units (the image spans 2 units per axis)
        scale = torch.tensor([2 / (w * self.spacing_mm), 2 / (h * self.spacing_mm)], device=device).view(1, 2, 1, 1)
        disp = normal((batch, 2, self.grid, self.grid), generator, device) * self.elastic_std_mm * scale
        return SpatialParams(theta=theta, displacement=disp)

    @staticmethod
    def grid_for(params: SpatialParams, size: tuple[int, int]) -> torch.Tensor:
        b = params.theta.shape[0]
        grid = F.affine_grid(params.theta, [b, 1, *size], align_corners=False)
        disp = F.interpolate(params.displacement, size=size, mode="bilinear", align_corners=True)
        return grid + disp.permute(0, 2, 3, 1)

    def apply(self, params: SpatialParams, labels: torch.Tensor, generator=None) -> torch.Tensor:
        """Deform integer label maps (B, C, H, W) with nearest-neighbour sampling."""
        grid = self.grid_for(params, labels.shape[-2:])
        out = F.grid_sample(labels.float(), grid, mode="nearest", padding_mode="zeros", align_corners=False)
        return out.round().long()

    def apply_image(self, params: SpatialParams, image: torch.Tensor) -> torch.Tensor:
        """Deform images (B, C, H, W) with bilinear sampling (for real-image augmentation)."""
        grid = self.grid_for(params, image.shape[-2:])
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
