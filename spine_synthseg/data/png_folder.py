"""Reader for folders of 2D PNG slices described by a ``dataset.json`` (the ``../shared/data`` format).

Layout: ``<root>/dataset.json``, ``<root>/images/<name>.png`` and ``<root>/masks/<name>.png``.
``dataset.json`` keys used: ``label_values`` (mask value -> name), optional ``structure_of_value``
(structure -> list of mask values, for per-level masks), ``pixel_spacing_rc_mm`` (``{file name: [row, col]}``
in mm, for non-square pixels; preferred) or ``pixel_spacing_mm`` (one number, or a ``{file name: number | null}``
map whose nulls take the median of the others), optional ``annotated_structures`` (the structures labelled at
all: the others are "not annotated", never "absent"), optional ``series`` (``{series: {sequence, appearance,
...}}``, attached to every slice of that series as tags).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from pathlib import Path

import numpy as np
from PIL import Image

from spine_synthseg.data.parallel import thread_map
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.errors import DataError
from spine_synthseg.labels import connected_component_instances, relabel_values
from spine_synthseg.structures import FOREGROUND, STRUCTURES

log = logging.getLogger(__name__)


def load_dataset_json(root: Path) -> dict:
    """The folder's ``dataset.json`` as a dict; a missing folder, file or bad JSON is a DataError naming it."""
    path = root / "dataset.json"
    if not root.is_dir():
        raise DataError(
            f"Data folder {root} does not exist. Place the SPIDER PNG folders under ../shared/data "
            f"(see data/README.md) or set source.root to the right folder."
        )
    if not path.is_file():
        raise DataError(f"{root} has no dataset.json; every slice folder needs one (see data/README.md).")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON ({err}); fix the file.") from err


def value_to_structure(meta: dict, json_path: Path) -> dict[int, int]:
    """Mask value -> class index, from ``structure_of_value`` or structure-named ``label_values``."""
    if "structure_of_value" in meta:
        table = {0: 0}
        for name, values in meta["structure_of_value"].items():
            if name not in STRUCTURES:
                raise DataError(f"{json_path}: structure_of_value names {name!r}; use one of {FOREGROUND}.")
            table.update({int(v): STRUCTURES.index(name) for v in values})
        return table
    if "label_values" not in meta:
        raise DataError(f"{json_path} has neither label_values nor structure_of_value; add the mask value mapping.")
    table = {}
    for value, name in meta["label_values"].items():
        if name not in STRUCTURES:
            raise DataError(
                f"{json_path}: label value {value} is named {name!r}; name it one of {STRUCTURES} "
                f"or give a structure_of_value mapping."
            )
        table[int(value)] = STRUCTURES.index(name)
    return table


def pixel_spacings(meta: dict, names: list[str], json_path: Path) -> dict[str, tuple[float, float]]:
    """(row, col) pixel spacing in mm of each file name: ``pixel_spacing_rc_mm[name]`` where present, else
    ``pixel_spacing_mm`` (square pixels)."""
    rc = meta.get("pixel_spacing_rc_mm") or {}
    if not isinstance(rc, dict):
        raise DataError(f"{json_path}: pixel_spacing_rc_mm must map file names to [row, col] in mm.")
    square = _isotropic_spacings(meta, names, json_path) if "pixel_spacing_mm" in meta or not rc else {}
    out = {}
    for n in names:
        value = rc.get(n)
        if value is None:
            if n not in square:
                raise DataError(f"{json_path}: no pixel spacing for {n}; add pixel_spacing_rc_mm or pixel_spacing_mm.")
            out[n] = (square[n], square[n])
            continue
        if len(value) != 2 or min(float(v) for v in value) <= 0:
            raise DataError(f"{json_path}: pixel_spacing_rc_mm[{n!r}]={value} must be two positive numbers [row, col] mm.")
        out[n] = (float(value[0]), float(value[1]))
    return out


def _isotropic_spacings(meta: dict, names: list[str], json_path: Path) -> dict[str, float]:
    spacing = meta.get("pixel_spacing_mm")
    if spacing is None:
        raise DataError(f"{json_path} has no pixel_spacing_mm; add it (one number in mm, or one per file).")
    if isinstance(spacing, (int, float)):
        return {n: float(spacing) for n in names}
    known = [float(v) for v in spacing.values() if v is not None]
    if not known:
        raise DataError(f"{json_path}: pixel_spacing_mm has no numeric value.")
    fallback = float(np.median(known))
    missing = [n for n in names if n not in spacing]
    if missing:
        raise DataError(f"{json_path}: pixel_spacing_mm lacks {missing[:3]}...; add an entry (null = median) per file.")
    n_null = sum(spacing[n] is None for n in names)
    if n_null:
        log.info("%s: %d slices without spacing take the median %.3f mm", json_path, n_null, fallback)
    return {n: fallback if spacing[n] is None else float(spacing[n]) for n in names}


GREY_MODES = ("L", "I", "I;16", "I;16B", "I;16L", "F")  # single-channel PNG modes, read as they are


def read_png(path: Path) -> np.ndarray:
    """A PNG as a 2D array at full depth (8 / 16 bit). Colour, grey + alpha and palette PNGs (RGB, RGBA, LA, P) are
    read only where they hold a grey image: every pixel with equal R, G and B and an opaque alpha, as a grey slice
    saved in colour is; then their grey value is the slice (logged). Any other colour PNG, and an unreadable file,
    is a DataError naming the file: a colour overlay or a transparent image is not an MR slice."""
    try:
        with Image.open(path) as im:
            if im.mode in GREY_MODES:
                return np.asarray(im)
            if im.mode == "1":
                return np.asarray(im.convert("L"))
            rgba = np.asarray(im.convert("RGBA"))
    except (OSError, ValueError) as err:
        raise DataError(f"Cannot read {path} ({err}); replace or delete the file.") from err
    grey, alpha = rgba[..., 0], rgba[..., 3]
    if not ((rgba[..., 1] == grey) & (rgba[..., 2] == grey)).all() or not (alpha == 255).all():
        raise DataError(f"{path} is a colour or transparent PNG (mode {im.mode}) that is no grey image; save the slice "
                        f"as a single-channel (grey) PNG.")
    log.info("%s: a %s PNG holding a grey image, read as its grey values", path, im.mode)
    return np.ascontiguousarray(grey)


def series_of(img_path: Path, pattern: re.Pattern) -> str:
    """The series id in a slice's file name: the first group of the patient_id_pattern `pattern`."""
    match = pattern.search(img_path.stem)
    if match is None:
        raise DataError(f"{img_path.name} does not match patient_id_pattern {pattern.pattern!r}; fix the pattern.")
    return match.group(1)


def png_patient_ids(root: str | Path, patient_id_pattern: str = r"^([^_]+)_",
                    patient_of_series: dict[str, str] | None = None) -> list[str]:
    """The patient id of every slice of a PNG folder from the file names alone, no image read: what
    ``read_png_folder`` gives its records when it skips none (on_empty="error")."""
    images = sorted((Path(root) / "images").glob("*.png"))
    if not images:
        raise DataError(f"{root}/images has no .png files; check source.root.")
    pattern, of_series = re.compile(patient_id_pattern), dict(patient_of_series or {})
    return [of_series.get(series, series) for series in (series_of(p, pattern) for p in images)]


def read_png_folder(
    root: str | Path,
    sequence: str,
    patient_id_pattern: str = r"^([^_]+)_",
    unannotated_if_absent: tuple[str, ...] = (),
    on_empty: str = "error",
    patient_of_series: dict[str, str] | None = None,
    patients: Collection[str] | None = None,
) -> tuple[list[SliceRecord], dict]:
    """Read every slice of a PNG folder.

    patient_id_pattern: regex whose first group is the series id in the file name (the patient id unless
    patient_of_series maps it: series of one exam / patient, e.g. other sequences, share a patient id).
    unannotated_if_absent: structures whose absence in a mask means "not annotated", not "not present".
    on_empty: "error" or "skip" for masks without foreground; skipped slices are counted in the report.
    patients: read only these patients' slices (None: all); the others are counted as "not_selected".
    Returns the records and a report dict (counts of read and skipped slices).
    """
    root = Path(root)
    meta = load_dataset_json(root)
    json_path = root / "dataset.json"
    table = value_to_structure(meta, json_path)
    per_level = "structure_of_value" in meta
    if on_empty not in ("error", "skip"):
        raise DataError(f"on_empty={on_empty!r}; use 'error' or 'skip'.")
    for name in unannotated_if_absent:
        if name not in FOREGROUND:
            raise DataError(f"unannotated_if_absent names {name!r}; use structures from {FOREGROUND}.")
    labelled = tuple(meta.get("annotated_structures", FOREGROUND))
    if not set(labelled) <= set(FOREGROUND):
        raise DataError(f"{json_path}: annotated_structures={list(labelled)}; use structures from {FOREGROUND}.")
    series_tags = meta.get("series") or {}
    patient_of_series = dict(patient_of_series or {})
    images = sorted((root / "images").glob("*.png"))
    if not images:
        raise DataError(f"{root}/images has no .png files; check source.root.")
    spacings = pixel_spacings(meta, [p.name for p in images], json_path)
    lut = np.zeros(max(max(table), 255) + 1, dtype=np.uint8)
    known = np.zeros_like(lut, dtype=bool)
    for value, cls in table.items():
        lut[value], known[value] = cls, True
    pattern = re.compile(patient_id_pattern)

    def read_one(img_path: Path, series: str) -> SliceRecord | None:
        """The slice's record; None for a mask without foreground that on_empty="skip" skips."""
        mask_path = root / "masks" / img_path.name
        if not mask_path.is_file():
            raise DataError(f"{img_path} has no mask {mask_path}; add it or remove the image.")
        image, mask = read_png(img_path), read_png(mask_path).astype(np.int64)
        if image.shape != mask.shape:
            raise DataError(f"{img_path} is {image.shape} but its mask {mask_path} is {mask.shape}; they must match.")
        values = np.unique(mask)
        unknown = [int(v) for v in values if v >= len(known) or not known[v]]
        if unknown:
            raise DataError(f"{mask_path} has label values {unknown} not in {json_path}; add them to the mapping.")
        structures = lut[mask]
        if not structures.any():
            if on_empty == "error":
                raise DataError(f"{mask_path} has no foreground; remove the slice or set source.on_empty=skip.")
            return None
        annotated = tuple(
            name in labelled and not (name in unannotated_if_absent and not (structures == STRUCTURES.index(name)).any())
            for name in FOREGROUND
        )
        instances = relabel_values(np.where(structures > 0, mask, 0)) if per_level else connected_component_instances(structures)
        return SliceRecord(
            image=image.astype(np.float32),
            structures=structures,
            instances=instances,
            spacing_mm=spacings[img_path.name],
            patient_id=patient_of_series.get(series, series),
            sequence=sequence,
            source=root.name,
            name=img_path.stem,
            annotated=annotated,
            series=series,
            tags={k: str(v) for k, v in series_tags.get(series, {}).items()},
        )

    selected = [(p, series_of(p, pattern)) for p in images]
    if patients is not None:
        selected = [(p, series) for p, series in selected if patient_of_series.get(series, series) in patients]
    read = thread_map(lambda item: read_one(*item), selected)  # in file order; the first error in file order
    records = [r for r in read if r is not None]
    skipped = [p.name for (p, _), r in zip(selected, read) if r is None]
    not_selected = len(images) - len(selected)
    if skipped:
        log.warning("%s: skipped %d slices without foreground: %s", root, len(skipped), skipped[:5])
    return records, {"read": len(records), "skipped_empty": skipped, "not_selected": not_selected}
