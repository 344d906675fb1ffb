"""Metrics for masks that label vertebral BODIES only (external_vb), not SPIDER's whole vertebrae.

A model trained on SPIDER labels the whole vertebra (body, pedicles, laminae, spinous process). Against
body-only truth, correct posterior elements must not count as errors, but vertebra predicted away from the
spine (e.g. bowel) must. Geometry (sagittal slice, anterior = low column, rows head -> feet): for each row r
covered by the labelled bodies (gaps between bodies, i.e. discs, are linearly interpolated) the labelled
body extends from A(r) (anterior edge) to P(r) (posterior edge). With T the labelled bodies and V the
predicted vertebra:

  vb_recall  = |V & T| / |T|: the share of labelled body pixels predicted as vertebra.
  vb_dice    = Dice(T, V & R), R = {(r, c): r in the bodies' row span, c <= P(r) + cut_mm}: the predicted
               vertebra cut `cut_mm` behind each body's posterior edge; posterior elements lie behind the cut,
               vertebra predicted in front of or inside the bodies (discs, bowel, vessels) stays and counts.
  vb_fp_far  = area (mm^2) of V outside the column band B = {(r, c): A(r) - anterior_mm <= c <= P(r) +
               posterior_mm}, where A and P are extended above and below the labelled rows by straight-line
               fits; B holds the bodies, the posterior elements and the (possibly unlabelled) vertebrae above
               and below, so what lies outside it is vertebra predicted far from the spine.

A slice without any labelled body gives NaN for all three.
"""

from __future__ import annotations

import numpy as np

from spine_synthseg.structures import VERTEBRA

CUT_MM = 3.0  # a body's posterior wall is ~1-2 mm thick; pedicles start behind it
ANTERIOR_MM = 15.0  # anterior osteophytes and label margins
POSTERIOR_MM = 80.0  # pedicles, laminae and spinous processes of a lumbar vertebra reach ~60-70 mm behind the body


def body_edges(bodies: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows spanned by the bodies and, per spanned row, the anterior and posterior edge columns (interpolated
    over rows without body pixels)."""
    rows = np.flatnonzero(bodies.any(1))
    span = np.arange(rows.min(), rows.max() + 1)
    cols = np.arange(bodies.shape[1])
    front = np.array([cols[bodies[r]].min() for r in rows], float)
    back = np.array([cols[bodies[r]].max() for r in rows], float)
    return span, np.interp(span, rows, front), np.interp(span, rows, back)


def _extend(span: np.ndarray, edge: np.ndarray, n_rows: int) -> np.ndarray:
    """The edge column for every row: inside the span as given, outside it on a straight-line fit."""
    slope, intercept = np.polyfit(span, edge, 1) if len(span) > 1 else (0.0, float(edge[0]))
    out = slope * np.arange(n_rows) + intercept
    out[span] = edge
    return out


def vertebral_body_metrics(pred: np.ndarray, target: np.ndarray, spacing_rc_mm: tuple[float, float],
                           cut_mm: float = CUT_MM, anterior_mm: float = ANTERIOR_MM,
                           posterior_mm: float = POSTERIOR_MM) -> dict[str, float]:
    """vb_recall, vb_dice and vb_fp_far (mm^2) of one slice: pred, target (H, W) class maps (target: bodies as
    VERTEBRA), spacing (row, col) in mm. See the module docstring."""
    bodies, vertebra = target == VERTEBRA, pred == VERTEBRA
    if not bodies.any():
        return {"vb_recall": float("nan"), "vb_dice": float("nan"), "vb_fp_far": float("nan")}
    row_mm, col_mm = spacing_rc_mm
    n_rows, n_cols = bodies.shape
    span, front, back = body_edges(bodies)
    cols = np.arange(n_cols)[None, :]
    kept = np.zeros_like(bodies)
    kept[span] = cols <= (back + cut_mm / col_mm)[:, None]
    cut = vertebra & kept
    band = (cols >= (_extend(span, front, n_rows) - anterior_mm / col_mm)[:, None]) & \
           (cols <= (_extend(span, back, n_rows) + posterior_mm / col_mm)[:, None])
    return {
        "vb_recall": float((vertebra & bodies).sum() / bodies.sum()),
        "vb_dice": float(2 * (cut & bodies).sum() / (cut.sum() + bodies.sum())),
        "vb_fp_far": float((vertebra & ~band).sum() * row_mm * col_mm),
    }
