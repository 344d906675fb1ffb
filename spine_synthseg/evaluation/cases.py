"""The evaluation cases: real held-out slices at their native grid, and copies perturbed on the fly.

Families: the catalogue's (``conf/catalog/default.yaml``, read by ``data/families.py``); ``evaluation.tests`` names
the groups to build (validation, shift_validation, standard, protocol_shift, external, external_dixon: real images;
contrast, resolution: home-field, the generator's own operators applied to the family their entry names as base).
The patients come from the run's split (``run_split``): no case holds a training patient, and only the validation
family holds validation patients. Nothing of the ground truth is used before scoring, except by the optional
``label_crop_mm`` (the old protocol: a window centred on the labels, kept for comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from omegaconf import DictConfig

from spine_synthseg.config import to_dict
from spine_synthseg.data import families
from spine_synthseg.data.families import mid_sagittal  # noqa: F401  (the TSE third is drawn on it)
from spine_synthseg.data.preprocess import normalise
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.errors import ConfigError, DataError
from spine_synthseg.evaluation.perturbations import contrast_perturbation, resolution_degradation
from spine_synthseg.evaluation.run_split import config_split, guard

HOME_FIELD = "home_field"  # the role of families built from the generator's own operators (labelled so)


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


@dataclass
class VolumeCase:
    """A family of whole volumes (scoring "volumes"): each segmented slice by slice as predict does, scored by
    ``volume_metrics``. records: none (its subjects are volumes, never slices of the training source)."""

    test: str
    variant: str
    volumes: list[families.VolumeRecord]
    scoring: str = "volumes"
    records: tuple = ()


def _contrast(name: str, percentiles: tuple[float, float]):
    def apply(image: np.ndarray, spacing) -> np.ndarray:
        x = normalise(torch.from_numpy(image), percentiles)[None, None]
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


def first_patients(records: list[SliceRecord], n: int | None) -> list[SliceRecord]:
    """The slices of the first n patients (sorted ids); all for None. For quick smoke evaluations only."""
    if not n:
        return records
    keep = sorted({r.patient_id for r in records})[:n]
    return [r for r in records if r.patient_id in keep]


def build_cases(cfg: DictConfig, split: dict | None = None) -> tuple[list[EvalCase], dict]:
    """All variants of the configured tests (``evaluation.tests``: groups of the catalogue's families) for the run's
    patient split (``run_split``; None: the config's); returns them and facts about the split. Raises DataError if
    a case would hold a patient it must not."""
    ev = cfg.evaluation
    catalog = to_dict(cfg.catalog)
    chosen = families.of_tests(catalog, list(ev.tests))
    split = split or config_split(cfg)
    limit, window = ev.get("max_patients"), ev.get("label_crop_mm")
    loaded: dict = {}
    by_family: dict[str, list[SliceRecord]] = {}

    def family_records(family: families.Family) -> list[SliceRecord]:
        if family.name not in by_family:
            recs = first_patients(families.records(family, split, loaded), limit)
            if window and family.role == "test" and family.scoring == "structures":
                recs = [crop_to_labels(r, tuple(window)) for r in recs]
            by_family[family.name] = recs
        return by_family[family.name]

    cases: list[EvalCase | VolumeCase] = []
    for family in chosen:
        if family.scoring == "volumes":
            volumes = families.volumes(family)
            cases.append(VolumeCase(family.test, family.variant, volumes[:limit] if limit else volumes))
            continue
        if family.role != HOME_FIELD:
            cases.append(EvalCase(family.test, family.variant, family_records(family), scoring=family.scoring))
            continue
        base = family_records(families.families(catalog)[family.base])
        cases += _home_field(family.test, base, ev, tuple(cfg.preprocess.percentiles))
    guard(cases, split)
    return cases, {"source": split["source"], "test_patients": sorted(split["test"]),
                   "val_patients": sorted(split["val"]), "n_slices": {f: len(r) for f, r in by_family.items()},
                   "n_train_patients": len(split["train"]), "label_crop_mm": list(window) if window else None}


def _home_field(test: str, base: list[SliceRecord], ev, percentiles: tuple[float, float]) -> list[EvalCase]:
    """The home-field variants of a group (contrast: ``evaluation.contrast_perturbations``; resolution: the native
    grid, ``resolution_mm`` and ``thick_slice_mm``) on the base family's slices (the very same labels)."""
    if test == "contrast":
        return [EvalCase(test, name, base, _contrast(name, percentiles)) for name in ev.contrast_perturbations]
    if test == "resolution":
        native = float(np.median([r.spacing_mm[0] for r in base]))
        variants = [(float(mm), False) for mm in ev.resolution_mm] + [(float(mm), True) for mm in ev.thick_slice_mm]
        return [EvalCase(test, f"iso_{native:g}mm", base, acq_spacing_mm=native)] + [
            EvalCase(test, f"{'thick' if thick else 'iso'}_{mm:g}mm", base, _resolution(mm, thick), acq_spacing_mm=mm)
            for mm, thick in variants]
    raise ConfigError(f"home-field group {test!r} has no perturbation here; use contrast or resolution.")
