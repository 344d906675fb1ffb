"""Stage 2b': distractors, shapes labelled background that look like the spine ("Search wide, focus deep",
arXiv 2410.20532). Applied to the generation labels before the intensities, so a distractor takes the intensity
distribution of a spine label of the same image; the training target (structures) is unchanged.

Per image with probability prob, each kind with probability 1/2 (at least one):
  blobs   the top 5 % of a smooth random field (6 x 6 control points): rounded shapes of 10-60 mm.
  tubes   a thin level set (|f| < tube_width) of another smooth field (4 x 4): curved tubes, e.g. vessels, bowel.
  copies  the spine's own label map shifted by shift_mm (rows and columns, random signs): deformed vertebra and disc
          shapes off the column, each with its instance's intensity.
Blobs and tubes take the generation label of one random foreground pixel of the image. Distractors are painted only
on background pixels at least min_distance_mm from the labelled structures (the distance bands' first edge).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spine_synthseg.errors import ConfigError
from spine_synthseg.labels import DISTANCE_BANDS_MM
from spine_synthseg.synthesis.gmm import GenerationLabels
from spine_synthseg.synthesis.sampling import check_interval, check_range, normal, uniform

BLOB_GRID, TUBE_GRID = 6, 4
BLOB_CUT = 1.2  # the upsampled field has std ~0.75: P(f > 1.2) ~ 5 %


@dataclass
class DistractorParams:
    """kinds: (B, 3) bool blobs / tubes / copies; fields: blob (B, 1, 6, 6) and tube (B, 1, 4, 4) control points;
    shift_px: (B, 2) copy shift (rows, cols) in pixels; source: (B,) U(0, 1) picking the foreground pixel."""

    kinds: torch.Tensor
    blob_field: torch.Tensor
    tube_field: torch.Tensor
    shift_px: torch.Tensor
    source: torch.Tensor


class RandomDistractors:
    """prob: share of images with distractors (0-1; 0 disables the stage). shift_mm: [a, b] |shift| of the copies
    in mm per axis (0-200). tube_width: half-width of the tubes' level set (0-0.2, field units). min_distance_mm:
    one of 0 or the distance bands' edges (labels.DISTANCE_BANDS_MM). spacing_mm: working pixel spacing (mm)."""

    def __init__(self, prob: float = 0.0, shift_mm=(30.0, 100.0), tube_width: float = 0.06,
                 min_distance_mm: float = 6.0, *, spacing_mm: float):
        self.prob = check_range("synth.distractors.prob", prob, 0, 1)
        self.shift_mm = check_interval("synth.distractors.shift_mm", shift_mm, 0, 200)
        self.tube_width = check_range("synth.distractors.tube_width", tube_width, 0, 0.2)
        edges = (0.0, *DISTANCE_BANDS_MM)
        if float(min_distance_mm) not in edges:
            raise ConfigError(f"synth.distractors.min_distance_mm={min_distance_mm} must be one of {list(edges)} "
                              "(the distance bands' edges).")
        self.min_band = edges.index(float(min_distance_mm))  # bg_distance index of the first allowed band
        self.spacing_mm = check_range("synth.distractors.spacing_mm", spacing_mm, 0.1, 10)

    @property
    def enabled(self) -> bool:
        return self.prob > 0

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> DistractorParams:
        on = torch.rand((batch, 1), generator=generator, device=device) < self.prob
        kinds = torch.rand((batch, 3), generator=generator, device=device) < 0.5
        kinds[:, 2] |= ~kinds[:, :2].any(1)  # at least one kind
        shift = uniform(*self.shift_mm, (batch, 2), generator, device) / self.spacing_mm
        signs = torch.where(torch.rand((batch, 2), generator=generator, device=device) < 0.5, -1.0, 1.0)
        return DistractorParams(kinds & on, normal((batch, 1, BLOB_GRID, BLOB_GRID), generator, device),
                                normal((batch, 1, TUBE_GRID, TUBE_GRID), generator, device), (shift * signs).round(),
                                torch.rand(batch, generator=generator, device=device))

    def apply(self, params: DistractorParams, x: GenerationLabels, structures: torch.Tensor,
              bg_distance: torch.Tensor) -> GenerationLabels:
        """The generation labels with distractors painted on the allowed background (structures unchanged)."""
        labels, size = x.labels, structures.shape[-2:]
        allowed = (structures == 0) & (bg_distance >= self.min_band)
        up = lambda f: F.interpolate(f, size=size, mode="bilinear", align_corners=True)[:, 0]  # noqa: E731
        shapes = (up(params.blob_field) > BLOB_CUT) & params.kinds[:, 0, None, None]
        shapes |= (up(params.tube_field).abs() < self.tube_width) & params.kinds[:, 1, None, None]
        fg = (structures > 0).flatten(1)
        count = fg.sum(1)
        rank = (params.source * count).floor().long().clamp_max((count - 1).clamp_min(0))  # the rank-th fg pixel
        pixel = (fg.long().cumsum(1) <= rank[:, None]).sum(1).clamp_max(fg.shape[1] - 1)
        source = labels.flatten(1).gather(1, pixel[:, None])[:, 0]
        shapes &= (count > 0)[:, None, None]
        out = torch.where(shapes & allowed, source[:, None, None], labels)
        # copies: the label map translated by shift_px (nearest; zeros = background outside)
        b, (h, w) = labels.shape[0], size
        theta = torch.zeros((b, 2, 3), device=labels.device)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, 0, 2] = -2 * params.shift_px[:, 1] / w
        theta[:, 1, 2] = -2 * params.shift_px[:, 0] / h
        grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
        moved = F.grid_sample(torch.stack([labels, structures], 1).float(), grid, mode="nearest",
                              padding_mode="zeros", align_corners=False).round().long()
        copy = (moved[:, 1] > 0) & allowed & params.kinds[:, 2, None, None]
        return GenerationLabels(torch.where(copy, moved[:, 0], out), x.tissue)

