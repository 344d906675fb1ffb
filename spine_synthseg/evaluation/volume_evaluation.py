"""Whole volumes scored as a user's scan is segmented: every sagittal slice through predict's volume path
(``SagittalLayout.to_slices`` -> ``inference.segment_stack``), then ``volume_metrics`` per volume.

The volume rule (``models/volume_rule.py``, the config's ``volume_rule``: predict's default) is applied as predict
applies it; when it is active the model's own labels are scored beside, as model "<name>+no_rule".
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
from spine_synthseg.models.volume_rule import VolumeRule, apply_rule
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


def segmented_volume(model, v, values: list[int], mode: str, quality: tuple[str, str] | None):
    """(image, layout, slices, the model's labels, bodies, spacing (slice, row, col) mm, quality scores (NaN without
    `quality`)) of one VolumeRecord v, segmented as predict segments it."""
    image = read_volume(v.image)
    layout = SagittalLayout.of(image, str(v.image))
    slices = layout.to_slices(image)
    raw = segment_stack(model, slices, layout.spacing_rc_mm, mode)
    target = read_bodies(v.mask, layout, values)
    if target.shape != raw.shape:
        raise DataError(f"{v.mask} is {target.shape} but {v.image} is {raw.shape}; they must match.")
    spacing = (float(image.GetSpacing()[layout.sagittal]), *layout.spacing_rc_mm)
    scores = quality_scores(model, list(slices), [layout.spacing_rc_mm] * len(slices), list(raw), quality[0],
                            mode, quality[1]) if quality else [float("nan")] * len(slices)
    return image, layout, slices, raw, target, spacing, np.asarray(scores, float)


def volume_row(seed, model: str, case, subject: str, metrics: dict) -> dict:
    """One volume's row: the columns of ``evaluate.image_rows`` (structure "vertebral_body") and its metrics."""
    return {"seed": seed, "model": model, "test": case.test, "variant": case.variant, "image": subject,
            "patient": subject, "series": subject, "sequence": case.variant, "appearance": "", "acq_spacing_mm": "",
            "structure": "vertebral_body", **dict.fromkeys(METRICS, float("nan")),
            **{k: metrics[k] for k in METRICS if k in metrics}}


def score_volumes(name: str, model, case, mode: str, seed, quality: tuple[str, str] | None = None,
                  save_dir: Path | None = None, rule: VolumeRule | None = None) -> tuple[list[dict], list[dict]]:
    """(volume rows, slice rows) of one model on a volume case. quality: (score kind, second mode) to score every
    slice (``models/quality.py``; a rule that decides from it needs it); save_dir: write each label volume there as
    <subject>.nii.gz (input geometry, after the rule); rule: the volume rule (None: none)."""
    rule = rule or VolumeRule("none")
    if rule.needs_quality and not quality:
        raise DataError(f"volume rule {rule.name} decides from the quality score; set evaluation.quality_scores.")
    values = body_values(Path(case.volumes[0].image).parents[1]) if case.volumes else []
    rows, slices_out = [], []
    for v in case.volumes:
        image, layout, slices, raw, target, spacing, scores = segmented_volume(model, v, values, mode, quality)
        labels, removed = apply_rule(raw, spacing, rule, scores)
        removed_mm3 = sum(removed.values())
        m = volume_metrics(labels, target, spacing)
        rows.append(volume_row(seed, name, case, v.subject, m))
        if rule.active:
            rows.append(volume_row(seed, f"{name}+no_rule", case, v.subject, volume_metrics(raw, target, spacing)))
        lateral = set(m["lateral"].tolist())
        slices_out += [{"seed": seed, "model": name, "test": case.test, "variant": case.variant, "patient": v.subject,
                        "slice": i, "distance_mm": (i - m["central"]) * spacing[0], "lateral": i in lateral,
                        "has_bodies": bool(target[i].any()), "false_spine_mm3": float(m["slice_false_spine_mm3"][i]),
                        "predicted_spine_mm3": float((labels[i] > 0).sum() * np.prod(spacing)),
                        f"qc_{quality[0] if quality else 'none'}": scores[i],
                        "rule_removed_mm3": float(removed_mm3[i])} for i in range(len(slices))]
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            sitk.WriteImage(layout.from_slices(labels, image), str(save_dir / f"{v.subject}.nii.gz"), useCompression=True)
    return rows, slices_out
