"""Inference, the one path used by validation, evaluation and ``predict``: segment whole slices with a model.

`model` is a SegmentationModule (or any module with ``hparams.preprocess``: spacing_mm, percentiles) in eval
mode. A raw 2D slice at any pixel spacing is resampled to the model's working spacing (antialiased bilinear),
normalised (intensity percentiles -> [0, 1]), zero-padded at the bottom / right to a multiple of 16 and segmented
whole (the U-Net is fully convolutional); the class map is cropped and resampled back (nearest) to the input grid.
Slices of equal working size are segmented together, in batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spine_synthseg.data.preprocess import normalise, resample

PAD_MULTIPLE = 16  # 2 ** (depth - 1) for the default depth 4; enough for depth <= 5


@torch.no_grad()
def segment_batch(model: nn.Module, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """(N, H, W) class maps of preprocessed images (N, 1, H, W) at the model's working spacing."""
    device = next(model.parameters()).device
    return torch.cat([model(images[i:i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, images.shape[0], batch_size)])


def _working_image(model: nn.Module, image: np.ndarray, spacing_rc_mm: tuple[float, float]) -> torch.Tensor:
    prep = model.hparams.preprocess
    x = resample(np.asarray(image, np.float32), spacing_rc_mm, float(prep["spacing_mm"]), labels=False)
    return normalise(x, tuple(prep.get("percentiles", (0.5, 99.5))))


def segment_slices(model: nn.Module, images: Sequence[np.ndarray], spacings_rc_mm: Sequence[tuple[float, float]],
                   batch_size: int = 16) -> list[np.ndarray]:
    """(h_i, w_i) uint8 class maps on each input grid, for raw 2D slices with pixel spacings (row, col) in mm."""
    working = [_working_image(model, im, sp) for im, sp in zip(images, spacings_rc_mm)]
    groups = defaultdict(list)
    for i, x in enumerate(working):
        groups[tuple(x.shape)].append(i)
    out: list[np.ndarray | None] = [None] * len(images)
    for (h, w), idx in groups.items():
        x = torch.stack([working[i] for i in idx])[:, None]
        x = F.pad(x, (0, (-w) % PAD_MULTIPLE, 0, (-h) % PAD_MULTIPLE))
        pred = segment_batch(model, x, batch_size)[:, :h, :w].float()
        for j, i in enumerate(idx):
            back = F.interpolate(pred[j][None, None], size=tuple(images[i].shape), mode="nearest-exact")[0, 0]
            out[i] = back.numpy().astype(np.uint8)
    return out


def segment_slice(model: nn.Module, image: np.ndarray, spacing_rc_mm: tuple[float, float]) -> np.ndarray:
    """(H, W) uint8 class map on the input grid for one raw 2D slice with pixel spacing (row, col) in mm."""
    return segment_slices(model, [image], [spacing_rc_mm])[0]
