"""Metrics of a whole segmented volume against vertebral-body-only masks (external_dixon_volumes), every slice scored.

A volume is a stack of sagittal slices (S, H, W): slice index s runs across the body (spacing s_mm), rows head ->
feet, columns anterior -> posterior (``orientation.SagittalLayout``). T: the labelled bodies, V: predicted vertebra,
D: predicted disc. The labelled range is the first to the last slice holding a body; its central slice c is the
labelled slice nearest the range's midpoint. P(r): the bodies' posterior-wall line on c (``body_metrics``: the
posterior edge per row, extended above and below the bodies by a straight-line fit).

  vb_dice3d       on the slices of the labelled range: Dice of T against V cut CUT_MM behind each body of its slice
                  (as ``vb_dice``), intersections and sizes summed over those slices before the ratio.
  vb_recall3d     |V & T| / |T| over the whole volume.
  false_spine_ml  on the lateral slices (more than LATERAL_MM beside the labelled range: only soft tissue lies there,
                  psoas, kidney, bowel; the masks come in blocks of 4 slices, so a range can end up to 4 mm short of a
                  body's edge): D anywhere plus V in front of P(r) + WALL_MM (transverse processes and facets lie
                  behind that line and are not counted), in mL.
  false_spine_slices  the share of the lateral slices holding more than SLICE_MM3 of it; NaN for a volume without
                  lateral slices (counted in n_lateral_slices).
  fp_far_ml       V outside the central slice's column band (``body_metrics``: ANTERIOR_MM in front of the bodies'
                  front line to POSTERIOR_MM behind their back line, both extended), summed over every slice, in mL.
"""

from __future__ import annotations

import numpy as np

from spine_synthseg.evaluation.body_metrics import ANTERIOR_MM, CUT_MM, POSTERIOR_MM, _extend, body_edges
from spine_synthseg.structures import DISC, VERTEBRA

LATERAL_MM = 4.0   # lateral slices lie more than this beside the labelled range (mask blocks of 4 slices)
WALL_MM = 5.0      # vertebra within this behind the posterior-wall line counts as false spine on lateral slices
SLICE_MM3 = 100.0  # a lateral slice with more false spine than this counts in false_spine_slices


def labelled_range(bodies: np.ndarray) -> tuple[int, int, int]:
    """(first, last, central) slice index of the labelled bodies of a (S, H, W) stack; central: the labelled slice
    nearest the midpoint of the range."""
    labelled = np.flatnonzero(bodies.any(axis=(1, 2)))
    if labelled.size == 0:
        raise ValueError("the volume's mask holds no labelled body")
    first, last = int(labelled[0]), int(labelled[-1])
    central = int(labelled[np.argmin(np.abs(labelled - (first + last) / 2))])
    return first, last, central


def lateral_slices(n_slices: int, first: int, last: int, slice_mm: float) -> np.ndarray:
    """Indices of the slices more than LATERAL_MM beside the labelled range [first, last]."""
    distance = np.maximum(first - np.arange(n_slices), np.arange(n_slices) - last) * slice_mm
    return np.flatnonzero(distance > LATERAL_MM)


def slice_false_spine_mm3(pred: np.ndarray, wall: np.ndarray, spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """(S,) false spine per slice in mm^3: disc anywhere plus vertebra in front of wall + WALL_MM (wall: the
    posterior-wall column per row, (H,)). spacing_mm: (slice, row, col)."""
    s_mm, r_mm, c_mm = spacing_mm
    cols = np.arange(pred.shape[2])[None, None, :]
    front = cols <= (wall + WALL_MM / c_mm)[None, :, None]
    count = ((pred == DISC) | ((pred == VERTEBRA) & front)).sum(axis=(1, 2))
    return count * s_mm * r_mm * c_mm


def posterior_wall(bodies_central: np.ndarray) -> np.ndarray:
    """(H,) the posterior-wall column per row of the central slice, extended above and below the bodies."""
    span, _, back = body_edges(bodies_central)
    return _extend(span, back, bodies_central.shape[0])


def volume_metrics(pred: np.ndarray, target: np.ndarray, spacing_mm: tuple[float, float, float]) -> dict:
    """The metrics of the module docstring for one volume: pred, target (S, H, W) class maps in sagittal layout
    (target: bodies as VERTEBRA), spacing_mm (slice, row, col) in mm; plus n_lateral_slices, the slice indices
    (first, last, central) of the labelled range, the lateral slices' indices and the false spine (mm^3) the rule
    finds on every slice (``slice_false_spine_mm3``; it counts only on the lateral ones)."""
    s_mm, r_mm, c_mm = spacing_mm
    voxel_mm3 = s_mm * r_mm * c_mm
    bodies, vertebra = target == VERTEBRA, pred == VERTEBRA
    first, last, central = labelled_range(bodies)
    inter = cut_size = truth = 0
    cols = np.arange(pred.shape[2])[None, :]
    for s in range(first, last + 1):
        if not bodies[s].any():
            continue
        span, _, back = body_edges(bodies[s])
        kept = np.zeros_like(bodies[s])
        kept[span] = cols <= (back + CUT_MM / c_mm)[:, None]
        cut = vertebra[s] & kept
        inter, cut_size, truth = inter + (cut & bodies[s]).sum(), cut_size + cut.sum(), truth + bodies[s].sum()
    span, front, back = body_edges(bodies[central])
    n_rows = bodies.shape[1]
    band = (cols >= (_extend(span, front, n_rows) - ANTERIOR_MM / c_mm)[:, None]) & \
           (cols <= (_extend(span, back, n_rows) + POSTERIOR_MM / c_mm)[:, None])
    lateral = lateral_slices(pred.shape[0], first, last, s_mm)
    every = slice_false_spine_mm3(pred, posterior_wall(bodies[central]), spacing_mm)
    per_slice = every[lateral]
    return {"vb_dice3d": float(2 * inter / (cut_size + truth)),
            "vb_recall3d": float((vertebra & bodies).sum() / bodies.sum()),
            "false_spine_ml": float(per_slice.sum() / 1000),
            "false_spine_slices": float((per_slice > SLICE_MM3).mean()) if lateral.size else float("nan"),
            "fp_far_ml": float((vertebra & ~band[None]).sum() * voxel_mm3 / 1000),
            "n_lateral_slices": int(lateral.size), "first": first, "last": last, "central": central,
            "lateral": lateral, "slice_false_spine_mm3": every}
