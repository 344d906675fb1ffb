"""Reader for the SPIDER release (Zenodo 10159290): ``images/<id>_<seq>.mha`` and ``masks/<id>_<seq>.mha``.

The sagittal axis is found from the image direction cosines (the index axis most aligned with the
patient's left-right axis, LPS x), never assumed; slices are returned head up, anterior left.
SPIDER mask values: 1-25 vertebrae, 100 spinal canal, 101-125 partially visible vertebrae, 201-225 discs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from spine_synthseg.data.instances import relabel_values
from spine_synthseg.data.records import DataError, SliceRecord
from spine_synthseg.structures import CANAL, DISC, VERTEBRA

log = logging.getLogger(__name__)

SPIDER_SEQUENCES = ("t1", "t2", "t2_SPACE")


def spider_structures(mask: np.ndarray, path: Path) -> np.ndarray:
    """Map SPIDER mask values to class indices; any other value is an error naming the file."""
    m = mask.astype(np.int64)
    structures = np.zeros(m.shape, dtype=np.uint8)
    structures[((m >= 1) & (m <= 25)) | ((m >= 101) & (m <= 125))] = VERTEBRA
    structures[(m >= 201) & (m <= 225)] = DISC
    structures[m == 100] = CANAL
    unknown = np.unique(m[(structures == 0) & (m != 0)])
    if unknown.size:
        raise DataError(
            f"{path} has label values {unknown[:10].tolist()} that are not SPIDER labels "
            f"(1-25 vertebra, 100 canal, 101-125 partial vertebra, 201-225 disc); is it a SPIDER mask?"
        )
    return structures


def sagittal_layout(image: sitk.Image) -> tuple[int, int, int, bool, bool]:
    """(sagittal, vertical, anteroposterior) index axes and whether to flip the vertical / AP axes.

    Direction column i is the LPS direction of index axis i. The sagittal axis is the one most
    aligned with x (left-right), vertical the one most aligned with z (inferior-superior).
    """
    if image.GetDimension() != 3:
        raise DataError(f"Expected a 3D volume, got {image.GetDimension()}D.")
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    sagittal = int(np.argmax(np.abs(direction[0])))
    rest = [a for a in range(3) if a != sagittal]
    vertical = max(rest, key=lambda a: abs(direction[2, a]))
    ap = next(a for a in rest if a != vertical)
    spacing = image.GetSpacing()
    if spacing[sagittal] < max(spacing[vertical], spacing[ap]):
        log.debug("sagittal axis %d is not the thickest (spacing %s)", sagittal, spacing)
    flip_vertical = direction[2, vertical] > 0  # index increasing towards superior: flip so row 0 is top
    flip_ap = direction[1, ap] < 0  # LPS y grows posterior: columns must go anterior -> posterior
    return sagittal, vertical, ap, flip_vertical, flip_ap


def volume_to_slices(image: sitk.Image, mask: sitk.Image) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Both volumes as (S, H, W) stacks of sagittal slices, head up, anterior left; spacing (H, W) in mm."""
    sagittal, vertical, ap, flip_v, flip_ap = sagittal_layout(image)
    order = (sagittal, vertical, ap)

    def reorient(vol: sitk.Image) -> np.ndarray:
        arr = sitk.GetArrayFromImage(vol).transpose(2, 1, 0)  # numpy (z, y, x) -> index order (x, y, z)
        arr = arr.transpose(order)
        if flip_v:
            arr = arr[:, ::-1]
        if flip_ap:
            arr = arr[:, :, ::-1]
        return np.ascontiguousarray(arr)

    spacing = image.GetSpacing()
    return reorient(image), reorient(mask), (float(spacing[vertical]), float(spacing[ap]))


def _read(path: Path) -> sitk.Image:
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise DataError(f"Cannot read {path} ({str(err).strip().splitlines()[-1]}); replace the file.") from err


def read_spider_folder(root: str | Path, sequence: str, max_slices_per_volume: int = 5) -> tuple[list[SliceRecord], dict]:
    """Read the central sagittal slices (those with a spinal canal label) of every ``<id>_<sequence>`` volume.

    max_slices_per_volume: keep at most this many labelled slices, the ones nearest the volume centre.
    """
    root = Path(root)
    if sequence not in SPIDER_SEQUENCES:
        raise DataError(f"Unknown SPIDER sequence {sequence!r}; use one of {SPIDER_SEQUENCES} (data.source.sequence).")
    if not (root / "images").is_dir() or not (root / "masks").is_dir():
        raise DataError(
            f"{root} is not a SPIDER release folder (needs images/ and masks/ with <id>_<seq>.mha); "
            f"download Zenodo record 10159290 and set data.source.root."
        )
    pattern = re.compile(rf"^(\d+)_{re.escape(sequence)}\.mha$")
    paths = sorted(p for p in (root / "images").glob("*.mha") if pattern.match(p.name))
    if not paths:
        raise DataError(f"{root}/images has no <id>_{sequence}.mha volumes; check data.source.sequence.")
    records, skipped = [], 0
    for img_path in paths:
        mask_path = root / "masks" / img_path.name
        if not mask_path.is_file():
            raise DataError(f"{img_path} has no mask {mask_path}; add it or remove the image.")
        image, mask = _read(img_path), _read(mask_path)
        if image.GetSize() != mask.GetSize():
            raise DataError(f"{img_path} has size {image.GetSize()} but {mask_path} has {mask.GetSize()}; they must match.")
        img_stack, mask_stack, spacing = volume_to_slices(image, mask)
        structure_stack = spider_structures(mask_stack, mask_path)  # validates every label value in the volume
        labelled = [i for i in range(mask_stack.shape[0]) if (structure_stack[i] == CANAL).any()]
        if not labelled:
            raise DataError(f"{mask_path} has no slice with a spinal canal label (100); it cannot be used.")
        centre = (mask_stack.shape[0] - 1) / 2
        keep = sorted(sorted(labelled, key=lambda i: abs(i - centre))[:max_slices_per_volume])
        skipped += mask_stack.shape[0] - len(keep)
        patient = pattern.match(img_path.name).group(1)
        for i in keep:
            structures = structure_stack[i]
            records.append(
                SliceRecord(
                    image=img_stack[i].astype(np.float32),
                    structures=structures,
                    instances=relabel_values(np.where(structures > 0, mask_stack[i], 0)),
                    spacing_mm=spacing,
                    patient_id=patient,
                    sequence=sequence,
                    source=root.name,
                    name=f"{img_path.stem}_slice{i}",
                )
            )
    log.info("%s: %d slices from %d volumes (%d other slices not used)", root, len(records), len(paths), skipped)
    return records, {"read": len(records), "volumes": len(paths), "slices_not_selected": skipped}
