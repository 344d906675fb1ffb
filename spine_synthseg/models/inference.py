"""Inference, the one path used by evaluation and ``predict``: load a checkpoint, segment images.

``segment_slice`` takes one raw 2D slice at any pixel spacing: it is resampled to the model's working spacing,
normalised (percentiles), zero-padded to a multiple of 16 and segmented whole (the U-Net is fully
convolutional); the class map is resampled back (nearest) to the input grid.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from spine_synthseg.data.preprocess import normalise, resample
from spine_synthseg.errors import DataError
from spine_synthseg.models.segmentation_module import SegmentationModule

PAD_MULTIPLE = 16  # 2 ** (depth - 1) for the default depth 4; enough for depth <= 5


def load_checkpoint(path: str | Path, expected_preprocess: Mapping | None = None) -> SegmentationModule:
    """A checkpoint in eval mode on the CPU. With `expected_preprocess` (the ``preprocess`` config node), the
    checkpoint must have been trained at the same working spacing and size."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Checkpoint {path} does not exist; pass the path of a .ckpt file.")
    try:
        model = SegmentationModule.load_from_checkpoint(str(path), map_location="cpu")
    except (RuntimeError, KeyError, TypeError) as err:
        raise DataError(f"{path} is not a spine-synthseg checkpoint ({err}); train one with run.py.") from err
    trained = model.hparams.get("preprocess")
    if expected_preprocess is not None and trained and (
            float(trained["spacing_mm"]) != float(expected_preprocess["spacing_mm"])
            or list(trained["size"]) != list(expected_preprocess["size"])):
        raise DataError(f"{path} was trained at {trained}, but preprocess is {dict(expected_preprocess)}; "
                        f"set preprocess to match.")
    return model.eval()


@torch.no_grad()
def segment_batch(model: SegmentationModule, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """(N, H, W) class maps of preprocessed images (N, 1, H, W) at the model's working spacing."""
    return torch.cat([model(images[i:i + batch_size].to(model.device)).argmax(1).cpu()
                      for i in range(0, images.shape[0], batch_size)])


def segment_slice(model: SegmentationModule, image: np.ndarray, spacing_rc_mm: tuple[float, float]) -> np.ndarray:
    """(H, W) uint8 class map on the input grid for one raw 2D slice with pixel spacing (row, col) in mm."""
    prep = model.hparams.preprocess
    working, percentiles = float(prep["spacing_mm"]), tuple(prep.get("percentiles", (0.5, 99.5)))
    x = normalise(resample(image.astype(np.float32), spacing_rc_mm, working, labels=False), percentiles)
    h, w = x.shape
    x = F.pad(x[None, None], (0, (-w) % PAD_MULTIPLE, 0, (-h) % PAD_MULTIPLE))
    pred = segment_batch(model, x)[:, :h, :w].float()
    back = F.interpolate(pred[None], size=image.shape, mode="nearest-exact")[0, 0]
    return back.numpy().astype(np.uint8)
