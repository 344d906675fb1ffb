"""The evaluation cases: real held-out slices at their native grid, and copies perturbed on the fly.

Families (``evaluation.tests``):
  validation      the T2 SPACE validation patients of the run's split: for choosing settings, never a test.
  shift_validation  for choosing settings under shift, never a test: external_dixon's shift-validation subjects
                  (dixon_water: water images, vertebral bodies only) and a third of the T2 TSE series (t2_tse:
                  ``evaluation.tse_shift_validation``, drawn once by ``draw_shift_validation_series``).
  standard        T2 SPACE test patients (in-domain).
  protocol_shift  SPIDER T2 TSE outside the shift-validation third: every slice (t2_tse), and the mid-sagittal
                  ones (t2_tse_mid: labelled canal area >= mid_sagittal_canal_mm2).
  external        external_vb, other hospitals, vertebral bodies only: t1_like and t2_like appearance (scored
                  with ``body_metrics``). Test only.
  external_dixon  external_dixon's test subjects: 3 T gradient-echo water images (MyoSegmenTUM), vertebral
                  bodies L1-L5 only (``body_metrics``). Test only.
  contrast        home-field: intensity perturbations of the standard images (gamma, inversion, shuffle).
  resolution      home-field: the standard images degraded with the generator's own blur/down/up operator.
The patients come from the run's split (``run_split``): no case holds a training patient, and only the validation
family holds validation patients. Nothing of the ground truth is used before scoring, except by the optional
``label_crop_mm`` (the old protocol: a window centred on the labels, kept for comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from spine_synthseg.config import to_dict
from spine_synthseg.data.catalog import load_native
from spine_synthseg.data.png_folder import load_dataset_json
from spine_synthseg.data.preprocess import normalise
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.perturbations import contrast_perturbation, resolution_degradation
from spine_synthseg.evaluation.run_split import config_split, guard
from spine_synthseg.structures import CANAL

VALIDATION_TESTS = ("validation", "shift_validation")
REAL_TESTS = ("standard", "protocol_shift", "external", "external_dixon")
HOME_FIELD_TESTS = ("contrast", "resolution")
TESTS = VALIDATION_TESTS + REAL_TESTS + HOME_FIELD_TESTS
DIXON_ROLES = {"shift_validation": "shift_validation_subjects", "external_dixon": "test_subjects"}  # dataset.json keys
PERCENTILES = (0.5, 99.5)


@dataclass
class EvalCase:
    """One evaluated variant: its family, name, real slices, and the perturbation applied to each image.

    transform: (image (h, w) float32, spacing (row, col) mm) -> image, applied lazily at prediction; None = as is.
    scoring: "structures" (Dice etc. per structure) or "bodies" (``body_metrics``, body-only masks).
    acq_spacing_mm: the acquisition spacing of resolution variants (None for the others).
    """

    test: str
    variant: str
    records: list[SliceRecord]
    transform: Callable[[np.ndarray, tuple[float, float]], np.ndarray] | None = None
    scoring: str = "structures"
    acq_spacing_mm: float | None = None

    def image(self, i: int) -> np.ndarray:
        r = self.records[i]
        image = np.asarray(r.image, np.float32)
        return image if self.transform is None else self.transform(image, r.spacing_mm)


def _contrast(name: str):
    def apply(image: np.ndarray, spacing) -> np.ndarray:
        x = normalise(torch.from_numpy(image), PERCENTILES)[None, None]
        return contrast_perturbation(x, name)[0, 0].numpy()
    return apply


def _resolution(mm: float, thick: bool):
    def apply(image: np.ndarray, spacing) -> np.ndarray:
        if abs(spacing[0] - spacing[1]) > 1e-6:
            raise DataError(f"Resolution degradation needs square pixels, got {spacing} mm.")
        return resolution_degradation(torch.from_numpy(image)[None, None], mm, float(spacing[0]), thick)[0, 0].numpy()
    return apply


def crop_to_labels(record: SliceRecord, window_mm: tuple[float, float]) -> SliceRecord:
    """The old protocol: a window of window_mm (rows, cols) centred on the labels' bounding box, zero-padded."""
    rows, cols = np.nonzero(record.structures)
    size = [max(1, round(w / s)) for w, s in zip(window_mm, record.spacing_mm)]
    top = (rows.min() + rows.max()) // 2 - size[0] // 2
    left = (cols.min() + cols.max()) // 2 - size[1] // 2

    def window(a: np.ndarray) -> np.ndarray:
        out = np.zeros(size, a.dtype)
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + size[0], a.shape[0]), min(left + size[1], a.shape[1])
        out[r0 - top:r1 - top, c0 - left:c1 - left] = a[r0:r1, c0:c1]
        return out

    return replace(record, image=window(record.image), structures=window(record.structures),
                   instances=window(record.instances))


def mid_sagittal(records: list[SliceRecord], min_canal_mm2: float) -> list[SliceRecord]:
    """Slices whose labelled spinal canal covers at least min_canal_mm2 (the canal is widest mid-sagittally)."""
    return [r for r in records if r.annotated[CANAL - 1]
            and (r.structures == CANAL).sum() * r.spacing_mm[0] * r.spacing_mm[1] >= min_canal_mm2]


def draw_shift_validation_series(records: list[SliceRecord], min_canal_mm2: float, seed: int,
                                 fraction: float = 1 / 3) -> list[str]:
    """A fraction of the series (patient ids), drawn with a fixed seed, stratified: that fraction of the series
    holding a mid-sagittal slice (``mid_sagittal``) and of the others (rounded), sorted. Drawn once; the list is
    committed in ``evaluation.tse_shift_validation`` (scripts/draw_tse_shift_validation.py)."""
    mid = {r.patient_id for r in mid_sagittal(records, min_canal_mm2)}
    rng = np.random.default_rng(seed)
    chosen = []
    for stratum in (sorted(mid), sorted({r.patient_id for r in records} - mid)):
        chosen += rng.choice(stratum, size=round(fraction * len(stratum)), replace=False).tolist()
    return sorted(chosen)


def tse_parts(records: list[SliceRecord], series: list[str]) -> tuple[list[SliceRecord], list[SliceRecord]]:
    """(shift-validation slices, test slices) of the T2 TSE records; an unknown series id is a DataError."""
    known = {r.patient_id for r in records}
    missing = sorted(set(series) - known)
    if missing:
        raise DataError(f"evaluation.tse_shift_validation.series names series {missing} that the T2 TSE "
                        "folder does not hold; redraw the list with scripts/draw_tse_shift_validation.py.")
    chosen = set(series)
    return [r for r in records if r.patient_id in chosen], [r for r in records if r.patient_id not in chosen]


def first_patients(records: list[SliceRecord], n: int | None) -> list[SliceRecord]:
    """The slices of the first n patients (sorted ids); all for None. For quick smoke evaluations only."""
    if not n:
        return records
    keep = sorted({r.patient_id for r in records})[:n]
    return [r for r in records if r.patient_id in keep]


def dixon_subjects(source: dict, family: str) -> list[str]:
    """The external_dixon subjects of a family, as its dataset.json lists them (DIXON_ROLES)."""
    root = Path(source["root"])
    key = DIXON_ROLES[family]
    subjects = load_dataset_json(root).get(key)
    if not subjects:
        raise DataError(f"{root}/dataset.json has no {key!r} list; the {family} family needs it (see data/README.md).")
    return list(subjects)


def build_cases(cfg: DictConfig, split: dict | None = None) -> tuple[list[EvalCase], dict]:
    """All variants of the configured tests for the run's patient split (``run_split``; None: the config's);
    returns them and facts about the split. Raises DataError if a case would hold a patient it must not."""
    ev = cfg.evaluation
    unknown = [t for t in ev.tests if t not in TESTS]
    if unknown:
        raise DataError(f"evaluation.tests has unknown tests {unknown}; use {TESTS}.")
    split = split or config_split(cfg)
    limit = ev.get("max_patients")
    test = first_patients(load_native(to_dict(cfg.source), split["test"]), limit)
    window = ev.get("label_crop_mm")
    if window:
        test = [crop_to_labels(r, tuple(window)) for r in test]
    cases: list[EvalCase] = []
    if "validation" in ev.tests:
        val = first_patients(load_native(to_dict(cfg.source), split["val"]), limit)
        cases.append(EvalCase("validation", "t2_space", val))
    for family in ("shift_validation", "external_dixon"):
        if family in ev.tests:
            dixon = to_dict(ev.dixon_source)
            records = first_patients(load_native(dixon, dixon_subjects(dixon, family)), limit)
            cases.append(EvalCase(family, "dixon_water", records, scoring="bodies"))
    if "shift_validation" in ev.tests or "protocol_shift" in ev.tests:
        tse_val, tse_test = tse_parts(load_native(to_dict(ev.shift_source)), list(ev.tse_shift_validation.series))
    if "shift_validation" in ev.tests:
        cases.append(EvalCase("shift_validation", "t2_tse", first_patients(tse_val, limit)))
    if "standard" in ev.tests:
        cases.append(EvalCase("standard", "t2_space", test))
    if "protocol_shift" in ev.tests:
        tse = first_patients(tse_test, limit)
        if window:
            tse = [crop_to_labels(r, tuple(window)) for r in tse]
        cases.append(EvalCase("protocol_shift", "t2_tse", tse))
        cases.append(EvalCase("protocol_shift", "t2_tse_mid", mid_sagittal(tse, float(ev.mid_sagittal_canal_mm2))))
    if "external" in ev.tests:
        external = load_native(to_dict(ev.external_source))
        external = [r for a in ("t1_like", "t2_like")
                    for r in first_patients([r for r in external if r.tags.get("appearance") == a], limit)]
        for appearance in ("t1_like", "t2_like"):
            chosen = [r for r in external if r.tags.get("appearance") == appearance]
            cases.append(EvalCase("external", appearance, chosen, scoring="bodies"))
    if "contrast" in ev.tests:
        for name in ev.contrast_perturbations:
            cases.append(EvalCase("contrast", name, test, _contrast(name)))
    if "resolution" in ev.tests:
        native = float(np.median([r.spacing_mm[0] for r in test]))
        cases.append(EvalCase("resolution", f"iso_{native:g}mm", test, acq_spacing_mm=native))
        variants = [(float(mm), False) for mm in ev.resolution_mm] + [(float(mm), True) for mm in ev.thick_slice_mm]
        for mm, thick in variants:
            cases.append(EvalCase("resolution", f"{'thick' if thick else 'iso'}_{mm:g}mm", test,
                                  _resolution(mm, thick), acq_spacing_mm=mm))
    guard(cases, split)
    return cases, {"source": split["source"], "test_patients": sorted(split["test"]),
                   "val_patients": sorted(split["val"]), "n_test_slices": len(test),
                   "n_train_patients": len(split["train"]), "label_crop_mm": list(window) if window else None}
