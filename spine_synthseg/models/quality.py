"""A quality score per segmented slice, without ground truth (as SynthSeg's ``--qc``): how much the prediction
changes when the same slice is segmented another way. A model that has understood a slice gives the same labels
either way; one that guesses (an unseen contrast, anatomy outside its training) does not.

  flip   the slice mirrored anterior-posterior, segmented, and mirrored back
  modes  a second inference mode, named in the config (``predict.quality_second_mode``: full_pass against the
         sliding window the score was chosen with)

Score: mean Dice over the classes 1-3 present in either prediction (1 = identical; NaN when both are empty).
Which score and which threshold flags a slice are chosen on validation data (``scripts/collect.py qc``, results/protocol.md entry 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import nn

from spine_synthseg.errors import ConfigError
from spine_synthseg.models.inference import MODES, segment_slices

KINDS = ("flip", "modes")


def agreement(a: np.ndarray, b: np.ndarray, n_classes: int = 4) -> float:
    """Mean Dice over the foreground classes present in `a` or `b` (same shape); NaN when neither has any."""
    scores = []
    for c in range(1, n_classes):
        pa, pb = a == c, b == c
        total = pa.sum() + pb.sum()
        if total:
            scores.append(2 * (pa & pb).sum() / total)
    return float(np.mean(scores)) if scores else float("nan")


def quality_scores(model: nn.Module, images: Sequence[np.ndarray], spacings_rc_mm: Sequence[tuple[float, float]],
                   predictions: Sequence[np.ndarray], kind: str, mode: str, second_mode: str | None = None) -> list[float]:
    """The `kind` score of each slice: agreement of `predictions` (made in `mode`) with a second segmentation
    (flip: the mirrored slice in `mode`; modes: the slice in `second_mode`, which must differ from `mode`)."""
    if kind not in KINDS:
        raise ConfigError(f"quality score {kind!r} is unknown; use one of {KINDS}.")
    if kind == "modes" and (second_mode not in MODES or second_mode == mode):
        raise ConfigError(f"the modes quality score compares {mode} with predict.quality_second_mode={second_mode!r}; "
                          f"set it to another of {MODES}.")
    if kind == "flip":
        flipped = segment_slices(model, [np.ascontiguousarray(im[:, ::-1]) for im in images], spacings_rc_mm, mode=mode)
        second = [p[:, ::-1] for p in flipped]
    else:
        second = segment_slices(model, images, spacings_rc_mm, mode=second_mode)
    return [agreement(p, q) for p, q in zip(predictions, second)]
