"""Reader for folders of 2D PNG slices described by a ``dataset.json`` (the ``../shared/data`` format).

Layout: ``<root>/dataset.json``, ``<root>/images/<name>.png`` and ``<root>/masks/<name>.png``.
``dataset.json`` keys used: ``label_values`` (mask value -> name), optional ``structure_of_value``
(structure -> list of mask values, for per-level masks), ``pixel_spacing_mm`` (one number, or a
``{file name: number | null}`` map whose nulls take the median of the others).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
from PIL import Image

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
            f"(see data/README.md) or set data.source.root to the right folder."
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
    """(row, col) pixel spacing in mm of each file name, from ``pixel_spacing_mm`` in `meta` (one number, or one
    per file where null takes the median of the others)."""
    return {n: (s, s) for n, s in _isotropic_spacings(meta, names, json_path).items()}


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


def read_png(path: Path) -> np.ndarray:
    """A PNG as a 2D array, keeping 16-bit values (colour images become 8-bit grey); unreadable: DataError."""
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("L") if im.mode not in ("L", "I", "I;16") else im)
    except (OSError, ValueError) as err:
        raise DataError(f"Cannot read {path} ({err}); replace or delete the file.") from err


def read_png_folder(
    root: str | Path,
    sequence: str,
    patient_id_pattern: str = r"^([^_]+)_",
    unannotated_if_absent: tuple[str, ...] = (),
    on_empty: str = "error",
) -> tuple[list[SliceRecord], dict]:
    """Read every slice of a PNG folder.

    patient_id_pattern: regex whose first group is the patient id in the file name.
    unannotated_if_absent: structures whose absence in a mask means "not annotated", not "not present".
    on_empty: "error" or "skip" for masks without foreground; skipped slices are counted in the report.
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
    images = sorted((root / "images").glob("*.png"))
    if not images:
        raise DataError(f"{root}/images has no .png files; check data.source.root.")
    spacings = pixel_spacings(meta, [p.name for p in images], json_path)
    lut = np.zeros(max(max(table), 255) + 1, dtype=np.uint8)
    known = np.zeros_like(lut, dtype=bool)
    for value, cls in table.items():
        lut[value], known[value] = cls, True
    pattern = re.compile(patient_id_pattern)
    records, skipped = [], []
    for img_path in images:
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
                raise DataError(f"{mask_path} has no foreground; remove the slice or set data.source.on_empty=skip.")
            skipped.append(img_path.name)
            continue
        match = pattern.search(img_path.stem)
        if match is None:
            raise DataError(f"{img_path.name} does not match patient_id_pattern {patient_id_pattern!r}; fix the pattern.")
        annotated = tuple(
            not (name in unannotated_if_absent and not (structures == STRUCTURES.index(name)).any()) for name in FOREGROUND
        )
        instances = relabel_values(np.where(structures > 0, mask, 0)) if per_level else connected_component_instances(structures)
        records.append(
            SliceRecord(
                image=image.astype(np.float32),
                structures=structures,
                instances=instances,
                spacing_mm=spacings[img_path.name],
                patient_id=match.group(1),
                sequence=sequence,
                source=root.name,
                name=img_path.stem,
                annotated=annotated,
            )
        )
    if skipped:
        log.warning("%s: skipped %d slices without foreground: %s", root, len(skipped), skipped[:5])
    return records, {"read": len(records), "skipped_empty": skipped}
