"""Whole volumes scored as a user's scan is segmented: every sagittal slice through predict's volume path
(``SagittalLayout.to_slices`` -> ``inference.segment_stack``), then ``volume_metrics`` per volume.

Rows: one per volume (the columns of ``evaluate.image_rows``, structure "vertebral_body", the volume metrics) and
one per slice (volume_slices.csv: signed distance from the central slice in mm, lateral or not, the false spine the
rule finds there in mm^3 and, with quality scores, each slice's score)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.png_folder import load_dataset_json
from spine_synthseg.data.spider_mha import read_volume
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.aggregation import METRICS
from spine_synthseg.evaluation.volume_metrics import volume_metrics
from spine_synthseg.models.inference import segment_stack
from spine_synthseg.models.quality import quality_scores
from spine_synthseg.structures import VERTEBRA


def body_values(root: Path) -> list[int]:
    """The mask values of vertebral bodies in a volume folder's dataset.json (structure_of_value.vertebra)."""
    meta = load_dataset_json(root)
    values = (meta.get("structure_of_value") or {}).get("vertebra")
    if not values:
        raise DataError(f"{root}/dataset.json has no structure_of_value.vertebra list; add the body mask values.")
    return [int(v) for v in values]


def read_bodies(path: Path, layout: SagittalLayout, values: list[int]) -> np.ndarray:
    """(S, H, W) mask of one volume in sagittal layout: bodies as VERTEBRA, 0 elsewhere; unknown values: DataError."""
    mask = layout.to_slices(read_volume(path))
    unknown = sorted(set(np.unique(mask).tolist()) - set(values) - {0})
    if unknown:
        raise DataError(f"{path} has label values {unknown} not in its dataset.json; add them to structure_of_value.")
    return np.where(np.isin(mask, values), VERTEBRA, 0).astype(np.uint8)


def score_volumes(name: str, model, case, mode: str, seed, quality: tuple[str, str] | None = None,
                  save_dir: Path | None = None) -> tuple[list[dict], list[dict]]:
    """(volume rows, slice rows) of one model on a volume case. quality: (score kind, second mode) to score every
    slice (``models/quality.py``); save_dir: write each label volume there as <subject>.nii.gz (input geometry)."""
    values = body_values(Path(case.volumes[0].image).parents[1]) if case.volumes else []
    rows, slices_out = [], []
    for v in case.volumes:
        image = read_volume(v.image)
        layout = SagittalLayout.of(image, str(v.image))
        slices = layout.to_slices(image)
        labels = segment_stack(model, slices, layout.spacing_rc_mm, mode)
        target = read_bodies(v.mask, layout, values)
        if target.shape != labels.shape:
            raise DataError(f"{v.mask} is {target.shape} but {v.image} is {labels.shape}; they must match.")
        spacing = (float(image.GetSpacing()[layout.sagittal]), *layout.spacing_rc_mm)
        m = volume_metrics(labels, target, spacing)
        base = {"seed": seed, "model": name, "test": case.test, "variant": case.variant, "image": v.subject,
                "patient": v.subject, "series": v.subject, "sequence": case.variant, "appearance": "",
                "acq_spacing_mm": "", "structure": "vertebral_body"}
        rows.append({**base, **dict.fromkeys(METRICS, float("nan")), **{k: m[k] for k in METRICS if k in m}})
        scores = quality_scores(model, list(slices), [layout.spacing_rc_mm] * len(slices), list(labels), quality[0],
                                mode, quality[1]) if quality else [float("nan")] * len(slices)
        lateral = set(m["lateral"].tolist())
        slices_out += [{"seed": seed, "model": name, "test": case.test, "variant": case.variant, "patient": v.subject,
                        "slice": i, "distance_mm": (i - m["central"]) * spacing[0], "lateral": i in lateral,
                        "has_bodies": bool(target[i].any()), "false_spine_mm3": float(m["slice_false_spine_mm3"][i]),
                        "predicted_spine_mm3": float((labels[i] > 0).sum() * np.prod(spacing)),
                        f"qc_{quality[0] if quality else 'none'}": scores[i]} for i in range(len(slices))]
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(layout.from_slices(labels, image), str(save_dir / f"{v.subject}.nii.gz"), useCompression=True)
    return rows, slices_out
