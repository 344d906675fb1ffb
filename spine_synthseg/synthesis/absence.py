"""Stage 2a': the anatomy beside the spine, which no labelled real slice shows (slices lateral of the column).

Applied to the label maps around the background partition (``apply`` before it: the target and the distance
bands, set to the farthest band so none outlines the removed column; ``paint`` after it: the column's pixels), so
the image is painted from what is left; per image at most one kind (free_prob, ghost_prob, partial_prob; sum <= 1):
  free     a spine-free map: the column (vertebra, disc, canal) removed and its pixels filled with the nearest
           background region (nearest by 4-neighbour steps); target all background.
  ghost    a column ghost: the column's silhouette smoothed (a window of ghost_smooth_mm) and widened or narrowed by
           up to ghost_width_mm, painted as ONE background region (no disc alternation: the psoas' shape), the
           rest of the column filled as in free; target all background.
  partial  a body's lateral edge: the vertebral bodies only (vertebra in front of the canal's anterior edge, per
           row), eroded by U(partial_erode_mm), labelled vertebra; disc, canal, posterior elements and the eroded
           rim filled as in free.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from spine_synthseg.errors import ConfigError
from spine_synthseg.labels import DISTANCE_BANDS_MM
from spine_synthseg.structures import CANAL, VERTEBRA
from spine_synthseg.synthesis.sampling import check_interval, check_range

KINDS = ("free", "ghost", "partial")


@dataclass
class AbsenceParams:
    """kind: (B,) 0 none, 1 free, 2 ghost, 3 partial; region: (B,) U(0, 1) picking the ghost's region; width_px:
    (B,) signed widening of the ghost (px); erode_px: (B,) erosion of the partial bodies (px)."""

    kind: torch.Tensor
    region: torch.Tensor
    width_px: torch.Tensor
    erode_px: torch.Tensor


def fill_nearest(values: torch.Tensor, unknown: torch.Tensor, max_steps: int = 512) -> torch.Tensor:
    """(B, H, W) values with the `unknown` pixels set to the value of the nearest known pixel (4-neighbour steps);
    an image with no known pixel keeps its values."""
    out, known = values.clone(), ~unknown
    for _ in range(max_steps):
        if bool(known.all()) or not bool((known.flatten(1).any(1) & ~known.flatten(1).all(1)).any()):
            break
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            pad = (max(dc, 0), max(-dc, 0), max(dr, 0), max(-dr, 0))
            h, w = out.shape[-2:]
            nb_val = F.pad(out, pad)[..., max(-dr, 0):max(-dr, 0) + h, max(-dc, 0):max(-dc, 0) + w]
            nb_known = F.pad(known, pad)[..., max(-dr, 0):max(-dr, 0) + h, max(-dc, 0):max(-dc, 0) + w]
            take = ~known & nb_known
            out = torch.where(take, nb_val, out)
            known = known | take
    return out


def _dilate(mask: torch.Tensor, px: torch.Tensor) -> torch.Tensor:
    """(B, H, W) masks dilated (px > 0) or eroded (px < 0) by |px| pixels each (square neighbourhood)."""
    out = mask.clone()
    for k in range(1, int(px.abs().max()) + 1):
        grown = F.max_pool2d(mask.float()[:, None], 2 * k + 1, 1, k)[:, 0] > 0
        shrunk = -F.max_pool2d(-mask.float()[:, None], 2 * k + 1, 1, k)[:, 0] > 0
        out = torch.where((px == k)[:, None, None], grown, torch.where((px == -k)[:, None, None], shrunk, out))
    return out


class SpineAbsence:
    """free_prob, ghost_prob, partial_prob: per-image probabilities of each kind (0-1, sum <= 1). ghost_smooth_mm:
    the smoothing window of the ghost's silhouette (0-30). ghost_width_mm: [a, b] |widening| (0-15, random sign).
    partial_erode_mm: [a, b] erosion of the partial bodies (0-10). spacing_mm: working pixel spacing (mm)."""

    def __init__(self, free_prob: float = 0.0, ghost_prob: float = 0.0, partial_prob: float = 0.0,
                 ghost_smooth_mm: float = 6.0, ghost_width_mm=(0.0, 6.0), partial_erode_mm=(0.0, 4.0), *,
                 spacing_mm: float):
        self.probs = [check_range(f"synth.absence.{k}_prob", p, 0, 1)
                      for k, p in zip(KINDS, (free_prob, ghost_prob, partial_prob))]
        if sum(self.probs) > 1:
            raise ConfigError(f"synth.absence: free_prob + ghost_prob + partial_prob = {sum(self.probs)} > 1.")
        self.spacing_mm = check_range("synth.absence.spacing_mm", spacing_mm, 0.1, 10)
        self.smooth_px = int(round(check_range("synth.absence.ghost_smooth_mm", ghost_smooth_mm, 0, 30) / self.spacing_mm))
        self.width_mm = check_interval("synth.absence.ghost_width_mm", ghost_width_mm, 0, 15)
        self.erode_mm = check_interval("synth.absence.partial_erode_mm", partial_erode_mm, 0, 10)

    @property
    def enabled(self) -> bool:
        return sum(self.probs) > 0

    def sample(self, batch: int, size: tuple[int, int], generator=None, device="cpu") -> AbsenceParams:
        u = torch.rand(batch, generator=generator, device=device)
        edges = torch.tensor(self.probs, device=device).cumsum(0)
        kind = torch.where(u < edges[-1], (u[:, None] >= edges[None, :]).sum(1) + 1, 0)
        r = torch.rand((4, batch), generator=generator, device=device)
        width = (self.width_mm[0] + (self.width_mm[1] - self.width_mm[0]) * r[1]) / self.spacing_mm
        width = (width * torch.where(r[2] < 0.5, -1.0, 1.0)).round().long()
        erode = ((self.erode_mm[0] + (self.erode_mm[1] - self.erode_mm[0]) * r[3]) / self.spacing_mm).round().long()
        return AbsenceParams(kind, r[0], width, erode)

    def apply(self, params: AbsenceParams, batch: dict[str, torch.Tensor], generator=None) -> dict[str, torch.Tensor]:
        """Before the background partition: the label batch with each image's kind applied to "structures" and
        "instances", and its distance bands ("bg_distance") set to the farthest band (recomputed without the
        column: nothing labelled is left to measure from; the partial bodies are small), so no band outlines the
        removed column. Keeps the removed column as "absent" (B, H, W) for ``paint``."""
        structures, instances = batch["structures"], batch["instances"]
        kind = params.kind[:, None, None]
        keep = torch.where(kind == 3, _dilate(self._bodies(structures), -params.erode_px),
                           torch.where(kind > 0, torch.zeros_like(structures, dtype=torch.bool), structures > 0))
        out = {**batch, "structures": torch.where(keep, torch.where(kind == 3, VERTEBRA, structures), 0),
               "instances": torch.where(keep, instances, 0), "absent": (structures > 0) & ~keep}
        if "bg_distance" in batch:
            out["bg_distance"] = torch.where(kind > 0, len(DISTANCE_BANDS_MM), batch["bg_distance"])
        return out

    def paint(self, params: AbsenceParams, regions: torch.Tensor, batch: dict[str, torch.Tensor], n_regions: int
              ) -> torch.Tensor:
        """After the background partition: the regions (B, H, W) with the removed column filled by the nearest
        background region and, for a ghost, its smoothed silhouette painted as one region."""
        absent, kind = batch["absent"], params.kind[:, None, None]
        filled = fill_nearest(regions, absent) if bool(absent.any()) else regions
        column = absent | (batch["structures"] > 0)
        ghost = column
        if self.smooth_px > 1:
            k = self.smooth_px | 1
            ghost = F.avg_pool2d(column.float()[:, None], k, 1, k // 2, count_include_pad=False)[:, 0] > 0.5
        ghost = _dilate(ghost, params.width_px) & (kind == 2)
        region = (params.region * n_regions).long().clamp_max(n_regions - 1)[:, None, None]
        return torch.where(ghost, region, filled)

    @staticmethod
    def _bodies(structures: torch.Tensor) -> torch.Tensor:
        """Vertebra in front of the canal's anterior edge per row (columns run anterior -> posterior); all vertebra
        of a row without canal."""
        canal = structures == CANAL
        w = structures.shape[-1]
        cols = torch.arange(w, device=structures.device)
        front = torch.where(canal, cols, w).min(-1).values  # (B, H): first canal column, w where none
        return (structures == VERTEBRA) & (cols[None, None, :] < front[..., None])
