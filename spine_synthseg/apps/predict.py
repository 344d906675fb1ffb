"""Segment a SPIDER-style ``.mha`` volume or a folder of PNG slices with a checkpoint.

Every sagittal slice goes through ``models.inference.segment_slice`` (whole slice at the model's working
spacing, class map back on the input grid). Outputs keep the input geometry: a ``.mha`` label volume with the
input's origin, spacing and direction, or one PNG mask per slice (values 0 background, 1 vertebra, 2 disc,
3 canal).

  python -m spine_synthseg.predict CHECKPOINT INPUT OUTPUT [--spacing-mm S] [--mode full_pass|sliding_window]

The inference mode defaults to the one the checkpoint was validated and selected with (its hparams).
  python run.py mode=predict predict.checkpoint=... predict.input=... predict.output=...
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image

from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.png_folder import load_dataset_json, pixel_spacings, read_png
from spine_synthseg.data.spider_mha import read_volume
from spine_synthseg.errors import ConfigError, DataError
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import DEFAULT_MODE, MODES, segment_slice
from spine_synthseg.models.segmentation_module import SegmentationModule

log = logging.getLogger(__name__)
VOLUME_SUFFIXES = (".mha", ".nii", ".gz")


def predict_volume(model: SegmentationModule, path: Path, out_path: Path, mode: str = DEFAULT_MODE) -> Path:
    """Segment every sagittal slice of a volume; write a label volume with the input's geometry."""
    image = read_volume(path)
    layout = SagittalLayout.of(image)
    labels = np.stack([segment_slice(model, s, layout.spacing_rc_mm, mode) for s in layout.to_slices(image)])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(layout.from_slices(labels, image), str(out_path), useCompression=True)
    return out_path


def predict_png_folder(model: SegmentationModule, folder: Path, out_dir: Path, spacing_mm: float | None,
                       mode: str = DEFAULT_MODE) -> list[Path]:
    """Segment every PNG in `folder` (or `folder/images`); spacing from the folder's dataset.json unless given."""
    images_dir = folder / "images" if (folder / "images").is_dir() else folder
    paths = sorted(images_dir.glob("*.png"))
    if not paths:
        raise DataError(f"{images_dir} has no .png images to segment.")
    names = [p.name for p in paths]
    if spacing_mm is not None:
        spacings = {n: (float(spacing_mm), float(spacing_mm)) for n in names}
    elif (folder / "dataset.json").is_file():
        spacings = pixel_spacings(load_dataset_json(folder), names, folder / "dataset.json")
    else:
        raise DataError(f"{folder} has no dataset.json with pixel_spacing_mm; pass --spacing-mm (mm per pixel).")
    out_dir.mkdir(parents=True, exist_ok=True)
    for p in paths:
        Image.fromarray(segment_slice(model, read_png(p).astype(np.float32), spacings[p.name], mode)).save(out_dir / p.name)
    return [out_dir / n for n in names]


def predict(checkpoint: str | Path, input_path: str | Path, output: str | Path, spacing_mm: float | None = None,
            mode: str | None = None):
    """Dispatch on the input: a volume file -> label volume; a folder -> PNG masks. mode: see models/inference.py
    (None: the checkpoint's own inference_mode)."""
    model = load_checkpoint(checkpoint)
    mode = mode or model.hparams.get("inference_mode", DEFAULT_MODE)
    input_path, output = Path(input_path), Path(output)
    if input_path.is_dir():
        return predict_png_folder(model, input_path, output, spacing_mm, mode)
    if not input_path.is_file():
        raise DataError(f"Input {input_path} does not exist; give a .mha volume or a folder of PNG slices.")
    target = output if output.suffix in VOLUME_SUFFIXES else output / f"{input_path.stem}_labels.mha"
    return predict_volume(model, input_path, target, mode)


def predict_from_config(cfg) -> object:
    """mode=predict: predict.checkpoint, predict.input, predict.output, predict.spacing_mm."""
    if not cfg.predict.checkpoint or not cfg.predict.input:
        raise ConfigError("mode=predict needs predict.checkpoint=PATH and predict.input=PATH (volume or PNG folder).")
    result = predict(cfg.predict.checkpoint, cfg.predict.input, cfg.predict.output, cfg.predict.get("spacing_mm"),
                     cfg.predict.get("inference_mode"))
    log.info("prediction written: %s", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spine_synthseg.predict", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("input", help="a .mha volume or a folder of PNG slices")
    parser.add_argument("output", help="output .mha file or folder")
    parser.add_argument("--spacing-mm", type=float, default=None, help="pixel spacing of PNG slices (mm)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="inference mode (default: the one the checkpoint was selected with)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        result = predict(args.checkpoint, args.input, args.output, args.spacing_mm, args.mode)
    except (DataError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result)
    return 0
