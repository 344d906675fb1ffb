"""Reader for the SPIDER release (Zenodo 10159290): ``images/<id>_<seq>.mha`` and ``masks/<id>_<seq>.mha``.

Volumes are sliced sagittally by ``orientation.SagittalLayout`` (axis from the direction cosines, never assumed;
head up, anterior left).
SPIDER mask values: 1-25 vertebrae, 100 spinal canal, 101-125 partially visible vertebrae, 201-225 discs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.errors import DataError
from spine_synthseg.labels import relabel_values
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


def read_volume(path: Path) -> sitk.Image:
    """A volume read by SimpleITK; an unreadable file is a DataError naming it."""
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as err:
        reason = str(err).strip().splitlines()[-1]
        if "spacing" in reason.lower():
            raise DataError(f"Cannot read {path}: its header gives a zero voxel spacing ({reason}); fix the header's "
                            f"spacing (mm) or re-export the volume.") from err
        raise DataError(f"Cannot read {path} ({reason}); is it a .mha/.nii volume? Replace the file.") from err


def read_spider_folder(root: str | Path, sequence: str, max_slices_per_volume: int = 5) -> tuple[list[SliceRecord], dict]:
    """Read the central sagittal slices (those with a spinal canal label) of every ``<id>_<sequence>`` volume.

    max_slices_per_volume: keep at most this many labelled slices, the ones nearest the volume centre.
    """
    root = Path(root)
    if sequence not in SPIDER_SEQUENCES:
        raise DataError(f"Unknown SPIDER sequence {sequence!r}; use one of {SPIDER_SEQUENCES} (source.sequence).")
    if not (root / "images").is_dir() or not (root / "masks").is_dir():
        raise DataError(
            f"{root} is not a SPIDER release folder (needs images/ and masks/ with <id>_<seq>.mha); "
            f"download Zenodo record 10159290 and set source.root."
        )
    pattern = re.compile(rf"^(\d+)_{re.escape(sequence)}\.mha$")
    paths = sorted(p for p in (root / "images").glob("*.mha") if pattern.match(p.name))
    if not paths:
        raise DataError(f"{root}/images has no <id>_{sequence}.mha volumes; check source.sequence.")
    records, skipped = [], 0
    for img_path in paths:
        mask_path = root / "masks" / img_path.name
        if not mask_path.is_file():
            raise DataError(f"{img_path} has no mask {mask_path}; add it or remove the image.")
        image, mask = read_volume(img_path), read_volume(mask_path)
        if image.GetSize() != mask.GetSize():
            raise DataError(f"{img_path} has size {image.GetSize()} but {mask_path} has {mask.GetSize()}; they must match.")
        layout = SagittalLayout.of(image)
        img_stack, mask_stack, spacing = layout.to_slices(image), layout.to_slices(mask), layout.spacing_rc_mm
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
