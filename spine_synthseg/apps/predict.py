"""Segment a volume (``.mha``, ``.nii`` / ``.nii.gz``, ``.nrrd``), a DICOM series folder or a folder of PNG
slices with a checkpoint.

Every sagittal slice goes through ``models.inference.segment_slice`` (whole slice at the model's working
spacing, class map back on the input grid). Outputs keep the input geometry: a label volume with the input's
origin, spacing and direction (a DICOM series gives ``<folder>_labels.mha``), or one PNG mask per slice (values
0 background, 1 vertebra, 2 disc, 3 canal). Wrong input ends with one line naming the file and the fix, exit 2.

  spine-synthseg-predict CHECKPOINT INPUT OUTPUT [--spacing-mm S] [--mode full_pass|sliding_window|large_window]
  python -m spine_synthseg.predict CHECKPOINT INPUT OUTPUT ...       (the same, without installing)

The inference mode defaults to the one the checkpoint was validated and selected with (its hparams).
  python run.py mode=predict predict.checkpoint=... predict.input=... predict.output=...
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from PIL import Image
from tqdm import tqdm

from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.png_folder import load_dataset_json, pixel_spacings, read_png
from spine_synthseg.data.spider_mha import read_volume
from spine_synthseg.errors import ConfigError, DataError
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import MODES, segment_slice
from spine_synthseg.models.quality import KINDS, quality_scores
from spine_synthseg.models.segmentation_module import SegmentationModule

log = logging.getLogger(__name__)
VOLUME_SUFFIXES = (".mha", ".mhd", ".nii", ".gz", ".nrrd")


def read_dicom_series(folder: Path) -> sitk.Image | None:
    """The DICOM series in `folder` as one volume (SimpleITK's series reader, slices sorted by position); None if
    the folder holds no DICOM series; several series are a DataError naming them."""
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        return None
    if len(series) > 1:
        raise DataError(f"{folder} holds {len(series)} DICOM series ({', '.join(series)}); put one series per folder.")
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder), series[0]))
    try:
        return reader.Execute()
    except RuntimeError as err:
        raise DataError(f"Cannot read the DICOM series in {folder} ({str(err).strip().splitlines()[-1]}); "
                        f"check that its files are complete.") from err


def write_quality(path: Path, names: list[str], scores: list[float], kind: str, threshold: float) -> Path:
    """<path>: one row per slice with its quality score and whether a reader should check it (score < threshold)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["slice", f"quality_{kind}", "check"])
        for name, score in zip(names, scores):
            writer.writerow([name, f"{score:.4f}", "yes" if not score >= threshold else "no"])  # NaN: check
    flagged = sum(not s >= threshold for s in scores)
    log.info("quality (%s agreement, threshold %.3f): %d of %d slices to check, listed in %s",
             kind, threshold, flagged, len(scores), path)
    return path


def predict_volume(model: SegmentationModule, image: sitk.Image, out_path: Path, mode: str,
                   name: str = "volume", quality: tuple | None = None) -> Path:
    """Segment every sagittal slice of a volume; write a label volume with the input's geometry, and with
    `quality` (score kind, threshold) a CSV of per-slice quality scores beside it."""
    layout = SagittalLayout.of(image, name)
    slices = layout.to_slices(image)
    labels = np.stack([segment_slice(model, s, layout.spacing_rc_mm, mode)
                       for s in tqdm(slices, desc=f"predict {name}", unit="slice", leave=False)])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(layout.from_slices(labels, image), str(out_path), useCompression=True)
    if quality:
        scores = quality_scores(model, list(slices), [layout.spacing_rc_mm] * len(slices), list(labels), quality[0], mode, quality[2])
        write_quality(out_path.with_name(out_path.name.split(".")[0] + "_quality.csv"),
                      [f"slice_{i:03d}" for i in range(len(slices))], scores, *quality[:2])
    return out_path


def predict_png_folder(model: SegmentationModule, folder: Path, out_dir: Path, spacing_mm: float | None,
                       mode: str, quality: tuple | None = None) -> list[Path]:
    """Segment every PNG in `folder` (or `folder/images`); spacing from the folder's dataset.json unless given."""
    images_dir = folder / "images" if (folder / "images").is_dir() else folder
    paths = sorted(images_dir.glob("*.png"))
    if not paths:
        raise DataError(f"{images_dir} has no DICOM series and no .png slices; give a DICOM series folder, a folder "
                        f"of PNG slices or a .mha / .nii(.gz) volume.")
    names = [p.name for p in paths]
    if spacing_mm is not None:
        spacings = {n: (float(spacing_mm), float(spacing_mm)) for n in names}
    elif (folder / "dataset.json").is_file():
        spacings = pixel_spacings(load_dataset_json(folder), names, folder / "dataset.json")
    else:
        raise DataError(f"{folder} has no dataset.json with pixel_spacing_mm; pass --spacing-mm (mm per pixel).")
    out_dir.mkdir(parents=True, exist_ok=True)
    images, labels = [], []
    for p in tqdm(paths, desc=f"predict {folder.name}", unit="slice", leave=False):
        images.append(read_png(p).astype(np.float32))
        labels.append(segment_slice(model, images[-1], spacings[p.name], mode))
        Image.fromarray(labels[-1]).save(out_dir / p.name)
    if quality:
        scores = quality_scores(model, images, [spacings[n] for n in names], labels, quality[0], mode, quality[2])
        write_quality(out_dir / "quality.csv", names, scores, *quality[:2])
    return [out_dir / n for n in names]


def predict(checkpoint: str | Path, input_path: str | Path, output: str | Path, spacing_mm: float | None = None,
            mode: str | None = None, quality: tuple[str, float] | None = None):
    """Dispatch on the input: a volume file or a DICOM series folder -> label volume; a PNG folder -> PNG masks.
    mode: see models/inference.py (None: the checkpoint's own inference_mode). quality: (score kind, threshold)
    to write per-slice quality scores and flags (models/quality.py); None: none."""
    input_path, output = Path(input_path), Path(output)
    if not input_path.exists():
        raise DataError(f"Input {input_path} does not exist; give a .mha / .nii(.gz) volume, a DICOM series folder "
                        f"or a folder of PNG slices.")
    model = load_checkpoint(checkpoint)
    mode = mode or model.hparams.inference_mode
    if quality and quality[1] is None:  # the threshold chosen for this checkpoint
        quality = (quality[0], model.quality.get("threshold", float("nan")), *quality[2:])
    if input_path.is_dir():
        series = read_dicom_series(input_path)
        if series is None:
            return predict_png_folder(model, input_path, output, spacing_mm, mode, quality)
        image, stem = series, input_path.name
    else:
        image, stem = read_volume(input_path), input_path.name.split(".")[0]
    target = output if output.suffix in VOLUME_SUFFIXES else output / f"{stem}_labels.mha"
    return predict_volume(model, image, target, mode, str(input_path), quality)


def predict_from_config(cfg) -> object:
    """mode=predict: predict.checkpoint, predict.input, predict.output, predict.spacing_mm."""
    if not cfg.predict.checkpoint or not cfg.predict.input:
        raise ConfigError("mode=predict needs predict.checkpoint=PATH and predict.input=PATH (volume or PNG folder).")
    p = cfg.predict
    quality = (p.quality_score, p.quality_threshold, p.quality_second_mode) if p.quality_score else None
    result = predict(cfg.predict.checkpoint, cfg.predict.input, cfg.predict.output, cfg.predict.get("spacing_mm"),
                     cfg.predict.get("inference_mode"), quality)
    log.info("prediction written: %s", result)
    return result


def _predict_defaults() -> dict:
    """predict.quality_score and predict.quality_threshold of conf/config.yaml (the one source of defaults)."""
    from omegaconf import OmegaConf

    from spine_synthseg.config import CONFIG_DIR

    node = OmegaConf.load(CONFIG_DIR / "config.yaml").predict
    return {k: node.get(k) for k in ("quality_score", "quality_threshold", "quality_second_mode")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spine-synthseg-predict", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("input", help="a .mha / .nii(.gz) volume, a DICOM series folder or a folder of PNG slices")
    parser.add_argument("output", help="output .mha file or folder")
    parser.add_argument("--spacing-mm", type=float, default=None, help="pixel spacing of PNG slices (mm)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="inference mode (default: the one the checkpoint was selected with)")
    defaults = _predict_defaults()
    parser.add_argument("--quality", choices=[*KINDS, "none"], default=defaults["quality_score"] or "none",
                        help="per-slice quality score written beside the output (default and threshold: conf/config.yaml, "
                             "chosen on validation data)")
    parser.add_argument("--quality-threshold", type=float, default=defaults["quality_threshold"],
                        help="slices scoring below it are flagged for checking (default: the threshold chosen for the "
                             "checkpoint on validation data, stored in it)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    quality = None if args.quality == "none" else (args.quality, args.quality_threshold, defaults["quality_second_mode"])
    try:
        result = predict(args.checkpoint, args.input, args.output, args.spacing_mm, args.mode, quality)
    except (DataError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result)
    return 0
