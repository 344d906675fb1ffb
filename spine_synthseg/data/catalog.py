"""The data catalogue as the config describes it: a source, preprocessed and cached, and its patient split."""

from __future__ import annotations

from pathlib import Path

from collections.abc import Collection

from spine_synthseg.data.preprocess import PreprocessConfig
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.data.slice_set import SliceSet
from spine_synthseg.data.sources import SourceConfig, load_slice_set, patient_ids, read_records
from spine_synthseg.data.splits import split_patients


def load_source(source: dict, preprocess: dict, cache_dir: str | Path | None) -> SliceSet:
    """The preprocessed slices of a ``source`` config node at the ``preprocess`` settings (cached)."""
    return load_slice_set(SourceConfig.from_dict(source), PreprocessConfig.from_dict(preprocess), cache_dir)


def load_splits(source: dict, preprocess: dict, split: dict, cache_dir: str | Path | None
                ) -> tuple[SliceSet, dict[str, list[str]]]:
    """The preprocessed source and its patient-level split (deterministic in ``split.seed``)."""
    slices = load_source(source, preprocess, cache_dir)
    return slices, split_patients(slices.patient_ids, dict(split["fractions"]), int(split["seed"]))


def source_split(source: dict, split: dict) -> dict[str, list[str]]:
    """The patient-level split of a source from its patients' IDs alone (what ``load_splits`` gives, with nothing
    preprocessed: evaluation needs the split, not the training grid)."""
    return split_patients(patient_ids(SourceConfig.from_dict(source)), dict(split["fractions"]), int(split["seed"]))


def load_native(source: dict, patients: Collection[str] | None = None) -> list[SliceRecord]:
    """The raw slices (native grid and intensities) of a ``source`` node, all or only `patients`'; what evaluation
    and validation segment whole and score on."""
    records, _ = read_records(SourceConfig.from_dict(source), None if patients is None else set(patients))
    return records
