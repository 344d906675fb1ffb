"""The evaluation cases of the robustness suite (real test images and their perturbed copies), built from the
config; never any training or validation patient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from omegaconf import DictConfig

from spine_synthseg.config import to_dict
from spine_synthseg.data.catalog import load_source, load_splits
from spine_synthseg.data.slice_set import SliceSet
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.perturbations import contrast_perturbation, resolution_degradation

TESTS = ("standard", "protocol_shift", "contrast", "resolution")


@dataclass
class EvalCase:
    """One evaluated variant: test family, variant name, images (N, 1, H, W), labels and slice metadata."""

    test: str
    variant: str
    image: torch.Tensor
    slices: SliceSet
    spacing_mm: float | None = None  # acquisition spacing for resolution variants


def build_cases(cfg: DictConfig) -> tuple[list[EvalCase], dict]:
    """All variants of the configured tests; returns them and the patient split used."""
    ev = cfg.evaluation
    unknown = [t for t in ev.tests if t not in TESTS]
    if unknown:
        raise DataError(f"evaluation.tests has unknown tests {unknown}; use {TESTS}.")
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    test_patients = set(splits[ev.test_split])
    leaked = test_patients & (set(splits.get("train", [])) | set(splits.get("val", [])))
    if leaked or ev.test_split in ("train", "val"):
        raise DataError(f"evaluation.test_split={ev.test_split!r} overlaps training/validation patients {sorted(leaked)}.")
    test = slices.of_patients(sorted(test_patients))
    working = test.spacing_mm
    cases: list[EvalCase] = []
    clean = test.image[:, None]
    if "standard" in ev.tests:
        cases.append(EvalCase("standard", "t2_space", clean, test, working))
    if "protocol_shift" in ev.tests:
        shift = load_source(to_dict(ev.shift_source), to_dict(cfg.preprocess), cfg.paths.cache_dir)
        cases.append(EvalCase("protocol_shift", shift.sequence.lower(), shift.image[:, None], shift))
    if "contrast" in ev.tests:
        for name in ev.contrast_perturbations:
            cases.append(EvalCase("contrast", name, contrast_perturbation(clean, name), test))
    if "resolution" in ev.tests:
        cases.append(EvalCase("resolution", f"iso_{working:g}mm", clean, test, working))
        for mm in ev.resolution_mm:
            for thick in (False, True):
                kind = "thick" if thick else "iso"
                cases.append(EvalCase("resolution", f"{kind}_{float(mm):g}mm",
                                      resolution_degradation(clean, float(mm), working, thick), test, float(mm)))
    return cases, {"test_patients": sorted(test_patients), "n_test_slices": len(test),
                   "train_patients_excluded": len(np.unique(splits.get("train", [])))}
