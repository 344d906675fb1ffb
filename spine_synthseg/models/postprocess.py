"""Column-aware post-processing of a predicted class map (no ground truth): keep what lies near the spinal column.

The column is the largest 8-connected component of vertebra and disc pixels. Its centre line is a quadratic fit of
the mean column index per row (rows: superior-inferior in a sagittal slice), and every foreground pixel farther
than band_mm from the centre line (across the rows) or more than band_mm above / below the column's ends is set
to background. A slice without vertebra or disc is returned unchanged.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from spine_synthseg.structures import DISC, VERTEBRA

POSTPROCESS = ("none", "column")


def column_band(pred: np.ndarray, spacing_rc_mm: tuple[float, float], band_mm: float = 50.0) -> np.ndarray:
    """pred (H, W) class map, spacing (row, col) in mm, band_mm > 0: the map with foreground outside the band
    around the column set to 0."""
    column = np.isin(pred, (VERTEBRA, DISC))
    components, n = ndimage.label(column, structure=np.ones((3, 3)))
    if n == 0:
        return pred
    largest = components == (np.argmax(np.bincount(components.ravel())[1:]) + 1)
    rows, cols = np.nonzero(largest)
    present = np.unique(rows)
    centre = np.array([cols[rows == r].mean() for r in present])
    coef = np.polyfit(present, centre, deg=min(2, len(present) - 1))
    r = np.arange(pred.shape[0])
    line = np.polyval(coef, r)
    far_cols = np.abs(np.arange(pred.shape[1])[None, :] - line[:, None]) * spacing_rc_mm[1] > band_mm
    margin = band_mm / spacing_rc_mm[0]
    far_rows = ((r < present.min() - margin) | (r > present.max() + margin))[:, None]
    return np.where(far_cols | far_rows, 0, pred).astype(pred.dtype)
