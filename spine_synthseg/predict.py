"""Segment a SPIDER-style ``.mha`` volume or a folder of PNG slices with a checkpoint.

Each sagittal slice is resampled to the model's working spacing, normalised, zero-padded to a multiple of
16 and segmented whole (the U-Net is fully convolutional); the label map is resampled back (nearest) to the
input grid. Outputs keep the input geometry: a ``.mha`` label volume with the input's origin, spacing and
direction, or one PNG mask per slice (values 0 background, 1 vertebra, 2 disc, 3 canal).

  python -m spine_synthseg.predict CHECKPOINT INPUT OUTPUT [--spacing-mm S]
  python run.py mode=predict predict.checkpoint=... predict.input=... predict.output=...
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
import torch.nn.functional as F
from PIL import Image

from spine_synthseg.data.preprocess import normalise, resample
from spine_synthseg.data.records import DataError
from spine_synthseg.data.spider_mha import sagittal_layout
from spine_synthseg.models.segmentation_module import SegmentationModule

log = logging.getLogger(__name__)


@torch.no_grad()
def segment_slice(model: SegmentationModule, image: np.ndarray, spacing_mm: tuple[float, float]) -> np.ndarray:
    """(H, W) class map on the input grid for one 2D slice with pixel spacing (row, col) in mm."""
    prep = model.hparams.preprocess
    working, percentiles = float(prep["spacing_mm"]), tuple(prep.get("percentiles", (0.5, 99.5)))
    x = normalise(resample(image.astype(np.float32), spacing_mm, working, labels=False), percentiles)
    h, w = x.shape
    ph, pw = (-h) % 16, (-w) % 16
    x = F.pad(x[None, None], (0, pw, 0, ph))
    pred = model(x.to(model.device)).argmax(1)[:, :h, :w].float().cpu()
    back = F.interpolate(pred[None], size=image.shape, mode="nearest-exact")[0, 0]
    return back.numpy().astype(np.uint8)


def predict_volume(model: SegmentationModule, path: Path, out_path: Path) -> Path:
    """Segment every sagittal slice of a volume; write a label volume with the input's geometry."""
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise DataError(f"Cannot read {path} ({err}); is it a .mha/.nii volume?") from err
    sagittal, vertical, ap, flip_v, flip_ap = sagittal_layout(image)
    arr = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # index order (x, y, z)
    order = (sagittal, vertical, ap)
    stack = arr.transpose(order)
    if flip_v:
        stack = stack[:, ::-1]
    if flip_ap:
        stack = stack[:, :, ::-1]
    spacing = image.GetSpacing()
    labels = np.stack([segment_slice(model, s, (spacing[vertical], spacing[ap])) for s in stack])
    if flip_ap:
        labels = labels[:, :, ::-1]
    if flip_v:
        labels = labels[:, ::-1]
    labels = labels.transpose(np.argsort(order)).transpose(2, 1, 0)  # back to index order, then (z, y, x)
    out = sitk.GetImageFromArray(np.ascontiguousarray(labels))
    out.CopyInformation(image)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(out, str(out_path), useCompression=True)
    return out_path


def predict_png_folder(model: SegmentationModule, folder: Path, out_dir: Path, spacing_mm: float | None) -> list[Path]:
    """Segment every PNG in `folder` (or `folder/images`); spacing from dataset.json unless given."""
    images_dir = folder / "images" if (folder / "images").is_dir() else folder
    paths = sorted(images_dir.glob("*.png"))
    if not paths:
        raise DataError(f"{images_dir} has no .png images to segment.")
    table = {}
    if spacing_mm is None:
        meta_path = folder / "dataset.json"
        if not meta_path.is_file():
            raise DataError(f"{folder} has no dataset.json with pixel_spacing_mm; pass --spacing-mm (mm per pixel).")
        spacing = json.loads(meta_path.read_text()).get("pixel_spacing_mm")
        known = [v for v in spacing.values() if v is not None] if isinstance(spacing, dict) else []
        table = {k: (v if v is not None else float(np.median(known))) for k, v in spacing.items()} if isinstance(spacing, dict) else {}
        spacing_mm = None if isinstance(spacing, dict) else float(spacing)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for p in paths:
        s = spacing_mm if spacing_mm is not None else table.get(p.name)
        if s is None:
            raise DataError(f"No pixel spacing for {p.name} in {folder}/dataset.json; add it or pass --spacing-mm.")
        image = np.asarray(Image.open(p).convert("L"), dtype=np.float32)
        Image.fromarray(segment_slice(model, image, (s, s))).save(out_dir / p.name)
        written.append(out_dir / p.name)
    return written


def predict(checkpoint: str | Path, input_path: str | Path, output: str | Path, spacing_mm: float | None = None):
    """Dispatch on the input: a volume file -> label volume; a folder -> PNG masks."""
    if not Path(checkpoint).is_file():
        raise DataError(f"Checkpoint {checkpoint} does not exist; pass the path of a .ckpt file.")
    model = SegmentationModule.load_from_checkpoint(str(checkpoint), map_location="cpu").eval()
    input_path, output = Path(input_path), Path(output)
    if input_path.is_dir():
        return predict_png_folder(model, input_path, output, spacing_mm)
    if not input_path.is_file():
        raise DataError(f"Input {input_path} does not exist; give a .mha volume or a folder of PNG slices.")
    target = output if output.suffix in (".mha", ".nii", ".gz") else output / f"{input_path.stem}_labels.mha"
    return predict_volume(model, input_path, target)


def predict_from_config(cfg) -> object:
    if not cfg.predict.checkpoint or not cfg.predict.input:
        raise DataError("mode=predict needs predict.checkpoint=PATH and predict.input=PATH (volume or PNG folder).")
    result = predict(cfg.predict.checkpoint, cfg.predict.input, cfg.predict.output, cfg.predict.get("spacing_mm"))
    log.info("prediction written: %s", result)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("input", help="a .mha volume or a folder of PNG slices")
    parser.add_argument("output", help="output .mha file or folder")
    parser.add_argument("--spacing-mm", type=float, default=None, help="pixel spacing of PNG slices (mm)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(predict(args.checkpoint, args.input, args.output, args.spacing_mm))


if __name__ == "__main__":
    main()
