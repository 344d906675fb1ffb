"""spine-synthseg-predict: segment a sagittal MRI volume, a DICOM series or a folder of 2D slices with a trained
checkpoint, without ever touching the input.

INPUT is a volume file (.mha, .mhd, .nii, .nii.gz, .nrrd), a DICOM series folder, or a folder of PNG slices (the
folder itself or its images/ subfolder; pixel spacing from its dataset.json or --spacing-mm). OUTPUT is, for a
volume, a volume file name (the label volume keeps the input's origin, spacing and direction) or a folder that
receives <input>_labels.mha; for a PNG folder, a folder that receives one PNG mask per slice. Labels: 0 background,
1 vertebra, 2 disc, 3 spinal canal. Beside the labels, a per-slice quality CSV (--quality) flags the slices to check.
A volume (or a PNG folder whose slices are one stack) is cleaned by the volume rule (--volume-rule, default the
config's: body and disc within 30 mm of the canal's midline, chosen on validation volumes; none turns it off); the
quality CSV says per slice what it removed.

Safety: OUTPUT may not be the input or lie inside an input folder; an existing OUTPUT is replaced only with
--overwrite; everything is written under a temporary name and renamed once complete, so an interruption or an error
leaves nothing half-written. Every input is checked before anything is segmented; a wrong one ends with one line
naming the file and the fix, exit status 2, nothing written (docs/usage.md lists each refusal). Non-finite voxels
are replaced by the slice's lowest finite value (with a warning); a blank, constant or all-non-finite slice comes
back empty.

The inference mode defaults to the one stored in the checkpoint (the mode it was selected with); the quality
threshold to the one chosen on validation data for it and stored in it. Also: python -m spine_synthseg.predict ...,
or python run.py mode=predict predict.checkpoint=... predict.input=... predict.output=...
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

from spine_synthseg.apps.output_files import check_target, output_target, stem_of, written_atomically
from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.png_folder import load_dataset_json, pixel_spacings, read_png
from spine_synthseg.data.spider_mha import read_volume
from spine_synthseg.data.stacks import consecutive_runs
from spine_synthseg.errors import ConfigError, DataError
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import MODES, PRECISIONS, precision, segment_slices, segment_stack
from spine_synthseg.models.quality import KINDS, quality_scores
from spine_synthseg.models.segmentation_module import SegmentationModule
from spine_synthseg.models.volume_rule import VolumeRule, apply_rule, load_rule, removed_by, rule_names

log = logging.getLogger(__name__)


# ---- reading and checking the input ----------------------------------------------------------------------------

def png_paths(folder: Path) -> list[Path]:
    """The .png slices of a folder (or of its images/ subfolder), sorted by name."""
    images_dir = folder / "images" if (folder / "images").is_dir() else folder
    return sorted(images_dir.glob("*.png"))


def read_dicom_series(folder: Path) -> sitk.Image | None:
    """The DICOM series in `folder` as one volume (SimpleITK's series reader, slices sorted by position); None if
    the folder holds no DICOM series; several series are a DataError naming them."""
    reader = sitk.ImageSeriesReader()
    warnings = sitk.ProcessObject_GetGlobalWarningDisplay()
    sitk.ProcessObject_SetGlobalWarningDisplay(False)  # "No Series were found" is an answer here, not a warning
    try:
        series = reader.GetGDCMSeriesIDs(str(folder))
    finally:
        sitk.ProcessObject_SetGlobalWarningDisplay(warnings)
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


def check_volume(image: sitk.Image, name: Path, min_extent_mm: float) -> SagittalLayout:
    """The sagittal layout of a volume that can be segmented: one component, positive spacing, each sagittal slice
    at least min_extent_mm along both in-plane axes; anything else is a DataError naming the file."""
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise DataError(f"{name} has {image.GetNumberOfComponentsPerPixel()} components per voxel (a vector or colour "
                        f"image); give a single-channel MR volume, e.g. one echo or one contrast.")
    if min(image.GetSpacing()) <= 0:
        raise DataError(f"{name} has voxel spacing {image.GetSpacing()} mm; every spacing must be positive. Fix the "
                        f"file's header.")
    layout = SagittalLayout.of(image, str(name))
    size = image.GetSize()
    extent = (size[layout.vertical] * layout.spacing_rc_mm[0], size[layout.ap] * layout.spacing_rc_mm[1])
    if min(extent) < min_extent_mm:
        raise DataError(f"{name}: its sagittal slices cover {extent[0]:g} x {extent[1]:g} mm, less than the "
                        f"{min_extent_mm:g} mm a slice needs on each axis (predict.min_extent_mm); give the whole "
                        f"sagittal field of view.")
    return layout


def check_slice(image: np.ndarray, spacing: tuple[float, float], name: Path, min_extent_mm: float) -> None:
    extent = (image.shape[0] * spacing[0], image.shape[1] * spacing[1])
    if min(extent) < min_extent_mm:
        raise DataError(f"{name} covers {extent[0]:g} x {extent[1]:g} mm, less than the {min_extent_mm:g} mm a slice "
                        f"needs on each axis (predict.min_extent_mm); check --spacing-mm or the image.")


def warn_non_finite(stack: np.ndarray, name: Path) -> None:
    bad = int((~np.isfinite(stack)).sum()) if np.issubdtype(stack.dtype, np.floating) else 0
    if bad:
        log.warning("%s: %d non-finite voxels (NaN / inf) replaced by their slice's lowest finite value; a slice with "
                    "no finite voxel comes back empty.", name, bad)


def write_quality(path: Path, names: list[str], scores: list[float], kind: str, threshold: float,
                  removed: list[tuple[float, str]] | None = None) -> Path:
    """<path>: one row per slice with its quality score and whether a reader should check it: yes below the
    threshold, no at or above it or where both segmentations are empty (score NaN: nothing to disagree on),
    unknown where no threshold was chosen for the checkpoint. removed: per slice, what the volume rule removed
    (mm^3, and by which of its parts; ``models/volume_rule.py``), as two more columns."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["slice", f"quality_{kind}", "check"] + (["rule_removed_mm3", "rule_removed_by"] if removed else []))
        for i, (name, score) in enumerate(zip(names, scores)):
            check = "no" if score != score else "unknown" if threshold != threshold else \
                "yes" if score < threshold else "no"
            writer.writerow([name, f"{score:.4f}", check] + ([f"{removed[i][0]:.0f}", removed[i][1]] if removed else []))
    flagged = sum(s < threshold for s in scores)
    log.info("quality (%s agreement, threshold %.3f): %d of %d slices to check", kind, threshold, flagged, len(scores))
    return path


# ---- segmenting -------------------------------------------------------------------------------------------------

def segment_pngs(model: SegmentationModule, slices: list[np.ndarray], spacings: list[tuple[float, float]], mode: str,
                 name: str) -> list[np.ndarray]:
    """The class map of each PNG slice (``inference.segment_slices``: blank slices come back empty), with a progress
    bar (slices of a folder may differ in size and spacing)."""
    return [segment_slices(model, [s], [sp], mode=mode)[0]
            for s, sp in tqdm(list(zip(slices, spacings)), desc=f"predict {name}", unit="slice", leave=False)]


def cleaned(model: SegmentationModule, slices: list[np.ndarray], spacing_rc_mm: tuple[float, float], slice_mm: float,
            labels: np.ndarray, mode: str, quality: tuple | None, rule: VolumeRule
            ) -> tuple[np.ndarray, list[float] | None, list[tuple[float, str]] | None]:
    """(labels after the volume rule, quality scores of the model's own labels or None, per slice what the rule
    removed or None); a rule that decides from the quality score needs `quality` (``predict`` checks it)."""
    scores = quality_scores(model, slices, [spacing_rc_mm] * len(slices), list(labels), quality[0], mode,
                            quality[2]) if quality else None
    if not rule.active:
        return labels, scores, None
    out, removed = apply_rule(labels, (slice_mm, *spacing_rc_mm), rule, None if scores is None else np.asarray(scores))
    per_slice = [removed_by(removed, s) for s in range(len(labels))]
    total = sum(mm3 for mm3, _ in per_slice)
    log.info("volume rule %s removed %.1f mL on %d of %d slices", rule.name, total / 1000,
             sum(mm3 > 0 for mm3, _ in per_slice), len(labels))
    return out, scores, per_slice


def predict_volume(model: SegmentationModule, image: sitk.Image, layout: SagittalLayout, target: Path, mode: str,
                   name: Path, quality: tuple | None = None, rule: VolumeRule | None = None) -> Path:
    """Segment every sagittal slice of a checked volume, apply the volume rule; write the label volume with the
    input's geometry (and the quality CSV <stem>_quality.csv beside it), each under a temporary name first."""
    rule = rule or VolumeRule("none")
    slices = layout.to_slices(image)
    warn_non_finite(slices, name)
    labels = segment_stack(model, slices, layout.spacing_rc_mm, mode, desc=f"predict {name.name}")
    labels, scores, removed = cleaned(model, list(slices), layout.spacing_rc_mm,
                                      float(image.GetSpacing()[layout.sagittal]), labels, mode, quality, rule)
    csv_path = target.with_name(f"{stem_of(target)}_quality.csv")  # checked with the target (predict)
    with written_atomically([target] + ([csv_path] if quality else [])) as temp:
        sitk.WriteImage(layout.from_slices(labels, image), str(temp[target]), useCompression=True)
        if quality:
            write_quality(temp[csv_path], [f"slice_{i:03d}" for i in range(len(slices))], scores, *quality[:2],
                          removed=removed)
    return target


def png_stack(folder: Path, paths: list[Path], images: list[np.ndarray],
              spacings: list[tuple[float, float]]) -> float | None:
    """The slice spacing (mm) when the PNG slices of a folder are one stack (``data/stacks.py``: one series of
    consecutive names, one shape and pixel spacing, slice_thickness_mm in its dataset.json); None otherwise (the
    slices are then segmented one by one and no volume rule applies)."""
    meta = load_dataset_json(folder) if (folder / "dataset.json").is_file() else {}
    runs = consecutive_runs([p.stem for p in paths], [""] * len(paths), [im.shape for im in images], spacings)
    if len(paths) < 2 or len(runs) != 1 or not meta.get("slice_thickness_mm"):
        return None
    return float(meta["slice_thickness_mm"])


def read_png_slices(folder: Path, spacing_mm: float | None, min_extent_mm: float
                    ) -> tuple[list[Path], list[np.ndarray], list[tuple[float, float]]]:
    """Every PNG of a folder read and checked before anything is segmented: (paths, images, spacings)."""
    paths = png_paths(folder)
    names = [p.name for p in paths]
    if spacing_mm is not None:
        spacings = {n: (float(spacing_mm), float(spacing_mm)) for n in names}
    elif (folder / "dataset.json").is_file():
        spacings = pixel_spacings(load_dataset_json(folder), names, folder / "dataset.json")
    else:
        raise DataError(f"{folder} has no dataset.json with pixel_spacing_mm; pass --spacing-mm (mm per pixel).")
    images = [read_png(p).astype(np.float32) for p in paths]
    for p, im in zip(paths, images):
        check_slice(im, spacings[p.name], p, min_extent_mm)
    return paths, images, [spacings[n] for n in names]


def predict_png_folder(model: SegmentationModule, folder: Path, target: Path, slices: tuple, mode: str,
                       quality: tuple | None = None, rule: VolumeRule | None = None) -> list[Path]:
    """Segment the checked PNG slices of `folder` (``read_png_slices``: paths, images, spacings) into the folder
    `target`: one mask per slice and, with `quality`, quality.csv; the volume rule applies only when the slices are
    one stack (``png_stack``). Written into a temporary folder renamed to `target` once complete."""
    rule = rule or VolumeRule("none")
    paths, images, spacings = slices
    for p, im in zip(paths, images):
        warn_non_finite(im, p)
    labels = segment_pngs(model, images, spacings, mode, folder.name)
    slice_mm = png_stack(folder, paths, images, spacings) if rule.active else None
    if rule.active and slice_mm is None:
        log.info("%s: its slices are not one stack (one series of consecutive names, one size and spacing, "
                 "slice_thickness_mm in dataset.json); segmented one by one, no volume rule", folder)
    removed = None
    if slice_mm is not None:
        stack, scores, removed = cleaned(model, images, spacings[0], slice_mm, np.stack(labels), mode, quality, rule)
        labels = list(stack)
    else:
        scores = quality_scores(model, images, spacings, labels, quality[0], mode, quality[2]) if quality else None
    with written_atomically([target]) as temp:
        temp[target].mkdir()
        for p, lab in zip(paths, labels):
            Image.fromarray(lab).save(temp[target] / p.name)
        if quality:
            write_quality(temp[target] / "quality.csv", [p.name for p in paths], scores, *quality[:2], removed=removed)
    return [target / p.name for p in paths]


def predict(checkpoint: str | Path, input_path: str | Path, output: str | Path, spacing_mm: float | None = None,
            mode: str | None = None, quality: tuple | None = None, overwrite: bool = False,
            min_extent_mm: float = 0.0, volume_rule: str | None = None, inference_precision: str | None = None):
    """Check the input and the output, then segment: a volume file or a DICOM series folder -> a label volume; a
    PNG folder -> PNG masks. mode: None: the checkpoint's own. quality: (score kind, threshold or None for the
    checkpoint's own, second inference mode of the modes score); None: no quality CSV. volume_rule: a rule of
    conf/volume_rule/ for volumes and PNG folders that are one stack ("none": off; None: the config's default).
    inference_precision: auto | bf16 | 32 (``inference.resolve_precision``; None: the config's default).
    Returns the written path(s)."""
    input_path, output = Path(input_path), Path(output)
    defaults = _predict_defaults() if not volume_rule or not inference_precision else {}
    rule = load_rule(volume_rule or defaults["volume_rule"])
    if rule.needs_quality and not quality:
        raise ConfigError(f"volume rule {rule.name} decides per slice from the quality score; keep --quality on, or "
                          f"choose another --volume-rule.")
    model = load_checkpoint(checkpoint)
    if not input_path.exists():
        raise DataError(f"Input {input_path} does not exist; give a .mha / .nii(.gz) volume, a DICOM series folder "
                        f"or a folder of PNG slices.")
    if spacing_mm is not None and not float(spacing_mm) > 0:
        raise DataError(f"--spacing-mm {spacing_mm}: a pixel spacing must be a positive number of mm.")
    is_png = input_path.is_dir() and bool(png_paths(input_path))
    image = None
    if input_path.is_dir() and not is_png:
        image = read_dicom_series(input_path)
        if image is None:
            raise DataError(f"{input_path} has no DICOM series and no .png slices; give a DICOM series folder, a "
                            f"folder of PNG slices or a .mha / .nii(.gz) volume.")
    target = output_target(input_path, output, is_volume=not is_png)
    check_target(input_path, target, overwrite, named=output if target != output else None)
    beside = target.with_name(f"{stem_of(target)}_quality.csv")
    if quality and not is_png and beside.exists() and not overwrite:
        raise DataError(f"{beside} exists; pass --overwrite to replace it, or choose another output.")
    if is_png:
        slices = read_png_slices(input_path, spacing_mm, min_extent_mm)  # every slice readable and large enough
    else:
        image = image if image is not None else read_volume(input_path)
        layout = check_volume(image, input_path, min_extent_mm)
    mode = mode or model.hparams.inference_mode
    if quality and quality[0] == "modes" and quality[2] == mode:
        raise ConfigError(f"the modes quality score compares the inference mode with predict.quality_second_mode, "
                          f"and both are {mode}; pass another --mode, or --quality flip / none.")
    if quality and quality[1] is None:  # the threshold chosen for this checkpoint (NaN: none was)
        quality = (quality[0], model.quality.get("threshold", float("nan")), *quality[2:])
    with precision(model, str(inference_precision or defaults["precision"])):
        if is_png:
            return predict_png_folder(model, input_path, target, slices, mode, quality, rule)
        return predict_volume(model, image, layout, target, mode, input_path, quality, rule)


def predict_from_config(cfg) -> object:
    """mode=predict: the predict node of the config (checkpoint, input, output, spacing_mm, inference_mode, ...)."""
    p = cfg.predict
    if not p.checkpoint or not p.input:
        raise ConfigError("mode=predict needs predict.checkpoint=PATH and predict.input=PATH (volume or PNG folder).")
    quality = (p.quality_score, p.quality_threshold, p.quality_second_mode) if p.quality_score else None
    result = predict(p.checkpoint, p.input, p.output, p.get("spacing_mm"), p.get("inference_mode"), quality,
                     bool(p.overwrite), float(p.min_extent_mm), str(cfg.volume_rule.name), str(cfg.inference_precision))
    log.info("prediction written: %s", result)
    return result


def _predict_defaults() -> dict:
    """The predict node of conf/config.yaml (the one source of defaults), its volume_rule choice and its
    inference_precision, read without composing the config."""
    from omegaconf import OmegaConf

    from spine_synthseg.config import CONFIG_DIR

    config = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "config.yaml"))
    rule = next(d["volume_rule"] for d in config["defaults"] if isinstance(d, dict) and "volume_rule" in d)
    return {**config["predict"], "volume_rule": rule, "precision": str(config["inference_precision"])}


def _positive_mm(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of mm")
    return value


def main(argv: list[str] | None = None) -> int:
    defaults = _predict_defaults()
    parser = argparse.ArgumentParser(prog="spine-synthseg-predict", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a .ckpt file, e.g. models/model_a.ckpt")
    parser.add_argument("input", help="a volume file, a DICOM series folder or a folder of PNG slices")
    parser.add_argument("output", help="a label volume file or a folder (see above)")
    parser.add_argument("--spacing-mm", type=_positive_mm, default=None,
                        help="pixel spacing of PNG slices in mm (default: the folder's dataset.json)")
    parser.add_argument("--mode", choices=MODES, default=None,
                        help="inference mode (default: the one stored in the checkpoint)")
    parser.add_argument("--quality", choices=[*KINDS, "none"], default=defaults["quality_score"] or "none",
                        help="per-slice quality score written beside the output (default: %(default)s)")
    parser.add_argument("--quality-threshold", type=float, default=defaults["quality_threshold"],
                        help="slices scoring below it are flagged for checking (default: the threshold chosen on "
                             "validation data for the checkpoint, stored in it)")
    parser.add_argument("--volume-rule", choices=rule_names(), default=defaults["volume_rule"],
                        help="what the stack of slices knows (conf/volume_rule/; for volumes and PNG folders that "
                             "are one stack): none turns it off (default: %(default)s)")
    parser.add_argument("--precision", choices=PRECISIONS, default=defaults["precision"],
                        help="arithmetic of inference: auto = bfloat16 where the CPU / GPU computes it natively, else "
                             "float32 (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    quality = None if args.quality == "none" else (args.quality, args.quality_threshold,
                                                   defaults["quality_second_mode"])
    try:
        result = predict(args.checkpoint, args.input, args.output, args.spacing_mm, args.mode, quality,
                         args.overwrite or bool(defaults["overwrite"]), float(defaults["min_extent_mm"]),
                         args.volume_rule, args.precision)
    except (DataError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(result if isinstance(result, Path) else result[0].parent)
    return 0
