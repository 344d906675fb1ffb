"""Inference, the one path used by validation, evaluation and ``predict``: segment whole slices with a model.

`model` is a SegmentationModule (or any module with ``hparams.preprocess``: spacing_mm, percentiles, size) in
eval mode. A raw 2D slice at any pixel spacing is resampled to the model's working spacing (antialiased
bilinear) and normalised (intensity percentiles -> [0, 1]); then either
  full_pass       zero-padded at the bottom / right to a multiple of 16 and segmented whole (the U-Net is fully
                  convolutional); slices of equal working size go together, in batches; or
  sliding_window  windows of the training crop size (preprocess.size) with 50 % overlap, softmax averaged with
                  a Gaussian weight (nnU-Net's, sigma = 1/8 of the window), then argmax;
  large_window    the same with windows of 1.5 x the crop (rounded up to a multiple of 16 px: 240 x 192 px,
                  360 x 288 mm at the default grid): more context per window, fewer windows that hold no spine;
and the class map is resampled back (nearest) to the input grid. flip_average: the softmax of the slice and of its
left-right mirror (anterior-posterior in a sagittal slice) averaged before the argmax (test-time augmentation).
The arithmetic is the caller's: ``precision`` gives evaluation's and predict's autocast (validation runs inside
Lightning's, at the trainer's precision); softmax and the window averages are always float32. In the windowed
modes the slices are spread over concurrent single-threaded streams on the CPU (``streams.py``: faster on 2 cores,
the same class maps where measured).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from spine_synthseg.data.preprocess import normalise, resample
from spine_synthseg.errors import ConfigError
from spine_synthseg.hardware import native_bf16
from spine_synthseg.models.streams import stream_map
from spine_synthseg.tensors import argmax

PAD_MULTIPLE = 16  # 2 ** (depth - 1) for the default depth 4; enough for depth <= 5
MODES = ("full_pass", "sliding_window", "large_window")
PRECISIONS = ("auto", "bf16", "32")  # the config's inference_precision
WINDOW_SCALE = {"sliding_window": 1.0, "large_window": 1.5}  # window size / training crop size


def resolve_precision(precision: str, device: torch.device) -> str:
    """"bf16" or "32" for an inference_precision (PRECISIONS) on a device: "auto" is bf16 where the device computes
    bfloat16 natively (a CPU with AMX, AVX512-BF16 or Arm BF16: ``hardware.native_bf16``; a CUDA GPU with native
    bf16, not emulated), else 32 (float32). Measured on an AMX CPU only (benchmarks/inference_speed.py)."""
    if str(precision) not in PRECISIONS:
        raise ConfigError(f"inference_precision={precision!r}; use one of {PRECISIONS} (conf/config.yaml).")
    if str(precision) != "auto":
        return str(precision)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "32"
    return "bf16" if device.type == "cpu" and native_bf16() else "32"


def precision(model: nn.Module, inference_precision: str) -> contextlib.AbstractContextManager:
    """The autocast context for inference with `model` at an inference_precision (``resolve_precision``): bfloat16
    autocast on the model's device, or autocast off (float32)."""
    device = next(model.parameters()).device
    bf16 = resolve_precision(inference_precision, device) == "bf16"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


@torch.no_grad()
def segment_batch(model: nn.Module, images: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """(N, H, W) class maps of preprocessed images (N, 1, H, W) at the model's working spacing."""
    device = next(model.parameters()).device
    return torch.cat([argmax(model(images[i:i + batch_size].to(device)), 1).cpu()
                      for i in range(0, images.shape[0], batch_size)])


def _working_image(model: nn.Module, image: np.ndarray, spacing_rc_mm: tuple[float, float]) -> torch.Tensor:
    prep = model.hparams.preprocess
    x = resample(np.asarray(image, np.float32), spacing_rc_mm, float(prep["spacing_mm"]), labels=False)
    return normalise(x, tuple(prep["percentiles"]))


def _gaussian_weight(size: tuple[int, int]) -> torch.Tensor:
    axes = [torch.exp(-0.5 * ((torch.arange(n) - (n - 1) / 2) / (n / 8)) ** 2) for n in size]
    return (axes[0][:, None] * axes[1][None, :]).clamp_min(1e-3)


@torch.no_grad()
def _sliding_window(model: nn.Module, x: torch.Tensor, window: tuple[int, int], batch_size: int = 16) -> torch.Tensor:
    """(4, h, w) softmax of one working image (h, w), windows of `window` px with 50 % overlap, in batches."""
    h, w = x.shape
    x = F.pad(x, (0, max(window[1] - w, 0), 0, max(window[0] - h, 0)))
    height, width = x.shape
    corners = [(top, left)
               for top in sorted({min(t, height - window[0]) for t in range(0, height, window[0] // 2)})
               for left in sorted({min(c, width - window[1]) for c in range(0, width, window[1] // 2)})]
    tiles = torch.stack([x[t:t + window[0], c:c + window[1]] for t, c in corners])[:, None]
    weight = _gaussian_weight(window)
    device = next(model.parameters()).device
    prob, norm = torch.zeros(4, height, width), torch.zeros(height, width)
    for start in range(0, len(corners), batch_size):
        probs = model(tiles[start:start + batch_size].to(device)).float().softmax(1).cpu() * weight
        for (top, left), p in zip(corners[start:start + batch_size], probs):
            prob[:, top:top + window[0], left:left + window[1]] += p
            norm[top:top + window[0], left:left + window[1]] += weight
    return (prob / norm)[:, :h, :w]


@torch.no_grad()
def _full_pass(model: nn.Module, x: torch.Tensor, batch_size: int = 16) -> torch.Tensor:
    """(N, 4, h, w) softmax of working images (N, 1, h, w) of one size, zero-padded to a multiple of 16."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, (-w) % PAD_MULTIPLE, 0, (-h) % PAD_MULTIPLE))
    device = next(model.parameters()).device
    return torch.cat([model(x[i:i + batch_size].to(device)).float().softmax(1).cpu()
                      for i in range(0, x.shape[0], batch_size)])[..., :h, :w]


def window_size(crop_size: Sequence[int], mode: str) -> tuple[int, int]:
    """(h, w) px of the windows of a windowed mode: the training crop (h, w) x WINDOW_SCALE, to a multiple of 16."""
    scale = WINDOW_SCALE[mode]
    return tuple(int(-(-round(int(n) * scale) // PAD_MULTIPLE) * PAD_MULTIPLE) for n in crop_size)


def finite_slice(image: np.ndarray) -> np.ndarray | None:
    """The slice as float32 with its non-finite voxels (NaN, inf) set to its lowest finite value; None for a slice
    with nothing to segment: no finite voxel, or one constant value (blank)."""
    x = np.asarray(image, np.float32)
    finite = np.isfinite(x)
    if not finite.any():
        return None
    if not finite.all():
        x = np.where(finite, x, x[finite].min())
    return None if x.max() == x.min() else x


def segment_slices(model: nn.Module, images: Sequence[np.ndarray], spacings_rc_mm: Sequence[tuple[float, float]],
                   mode: str, batch_size: int = 16, flip_average: bool = False) -> list[np.ndarray]:
    """(h_i, w_i) uint8 class maps on each input grid, for raw 2D slices with pixel spacings (row, col) in mm.
    mode: one of MODES; the default is the config's ``inference_mode`` (or the checkpoint's), never set here.
    A blank, constant or all-non-finite slice comes back empty (nothing in it to segment); other non-finite voxels
    take the slice's lowest finite value (``finite_slice``)."""
    if mode not in MODES:
        raise ConfigError(f"inference mode {mode!r}; use one of {MODES}.")
    cleaned = [finite_slice(im) for im in images]
    if any(c is None for c in cleaned):
        keep = [i for i, c in enumerate(cleaned) if c is not None]
        done = segment_slices(model, [cleaned[i] for i in keep], [spacings_rc_mm[i] for i in keep], mode, batch_size,
                              flip_average) if keep else []
        out = [np.zeros(np.shape(im), np.uint8) for im in images]
        for i, pred in zip(keep, done):
            out[i] = pred
        return out
    images = cleaned
    back = lambda c, im: F.interpolate(c.float()[None, None], size=tuple(im.shape),  # noqa: E731
                                       mode="nearest-exact")[0, 0].numpy().astype(np.uint8)
    if mode in WINDOW_SCALE:
        window = window_size(model.hparams.preprocess["size"], mode)

        def one(i: int) -> np.ndarray:  # a slice from raw to class map, in one stream
            x = _working_image(model, images[i], spacings_rc_mm[i])
            prob = _sliding_window(model, x, window, batch_size)
            if flip_average:
                prob = (prob + _sliding_window(model, x.flip(-1), window, batch_size).flip(-1)) / 2
            return back(argmax(prob, 0), images[i])

        return stream_map(one, range(len(images)), next(model.parameters()).device)
    working = [_working_image(model, im, sp) for im, sp in zip(images, spacings_rc_mm)]
    groups = defaultdict(list)
    for i, x in enumerate(working):
        groups[tuple(x.shape)].append(i)
    out: list[np.ndarray | None] = [None] * len(images)
    for idx in groups.values():
        x = torch.stack([working[i] for i in idx])[:, None]
        prob = _full_pass(model, x, batch_size)
        if flip_average:
            prob = (prob + _full_pass(model, x.flip(-1), batch_size).flip(-1)) / 2
        for j, i in enumerate(idx):
            out[i] = back(argmax(prob[j], 0), images[i])
    return out


def segment_slice(model: nn.Module, image: np.ndarray, spacing_rc_mm: tuple[float, float],
                  mode: str) -> np.ndarray:
    """(H, W) uint8 class map on the input grid for one raw 2D slice with pixel spacing (row, col) in mm."""
    return segment_slices(model, [image], [spacing_rc_mm], mode=mode)[0]


def segment_stack(model: nn.Module, slices: Sequence[np.ndarray], spacing_rc_mm: tuple[float, float], mode: str,
                  desc: str | None = None, chunk: int = 8) -> np.ndarray:
    """(S, H, W) uint8 class maps of a stack of sagittal slices (S, H, W) of one pixel spacing (row, col) mm: the
    volume path of predict and of the volume evaluation alike, `chunk` slices at a time (a progress bar with desc)."""
    from tqdm import tqdm

    out = []
    steps = range(0, len(slices), chunk)
    for start in tqdm(steps, desc=desc, unit=f"x{chunk} slices", leave=False, disable=desc is None):
        part = list(slices[start:start + chunk])
        out += segment_slices(model, part, [spacing_rc_mm] * len(part), mode=mode)
    return np.stack(out) if out else np.zeros((0,) + tuple(np.shape(slices)[1:]), np.uint8)
