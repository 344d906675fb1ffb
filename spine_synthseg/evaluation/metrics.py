"""Per-structure Dice and surface distances (mm) per image (statistics over patients and seeds: ``collect``).

Conventions for a structure in one image (P = prediction, T = truth):
  T and P empty -> NaN (nothing to score, excluded from means); exactly one empty -> Dice 0, distances NaN;
  structure not annotated in that image -> NaN for every metric.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from spine_synthseg.structures import FOREGROUND


def dice_per_structure(pred: np.ndarray, target: np.ndarray, annotated: np.ndarray | None = None) -> np.ndarray:
    """(N, 3) Dice of classes 1..3 for (N, H, W) integer maps; Dice = 2|P & T| / (|P| + |T|)."""
    n = pred.shape[0]
    out = np.full((n, len(FOREGROUND)), np.nan)
    for c in range(1, len(FOREGROUND) + 1):
        p = (pred == c).reshape(n, -1)
        t = (target == c).reshape(n, -1)
        denom = p.sum(1) + t.sum(1)
        inter = (p & t).sum(1)
        out[:, c - 1] = np.where(denom > 0, 2 * inter / np.maximum(denom, 1), np.nan)
    if annotated is not None:
        out[~np.asarray(annotated, dtype=bool)] = np.nan
    return out


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, structure=np.ones((3, 3)), border_value=0)


def surface_distances(pred: np.ndarray, target: np.ndarray, spacing_mm) -> tuple[float, float]:
    """(HD95, ASSD) in mm between two binary 2D masks with pixel spacing (row, col) mm (or one number); NaN if
    either is empty.

    HD95 = 95th percentile of the pooled symmetric surface-to-surface distances; ASSD = their mean.
    """
    if not pred.any() or not target.any():
        return float("nan"), float("nan")
    # crop to the union's bounding box plus a 1-pixel margin: every surface point and every distance between
    # them lies inside it, and the erosion sees the same neighbourhoods, so the result is exact
    rows, cols = np.nonzero(pred | target)
    r0, r1 = max(rows.min() - 1, 0), rows.max() + 2
    c0, c1 = max(cols.min() - 1, 0), cols.max() + 2
    pred, target = pred[r0:r1, c0:c1], target[r0:r1, c0:c1]
    sp, st = _surface(pred), _surface(target)
    dt_t = ndimage.distance_transform_edt(~st, sampling=spacing_mm)
    dt_p = ndimage.distance_transform_edt(~sp, sampling=spacing_mm)
    d = np.concatenate([dt_t[sp], dt_p[st]])
    return float(np.percentile(d, 95)), float(d.mean())
