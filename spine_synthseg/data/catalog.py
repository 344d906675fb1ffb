"""The data catalogue as the config describes it: a source, preprocessed and cached, and its patient split."""

from __future__ import annotations

from pathlib import Path

from spine_synthseg.data.preprocess import PreprocessConfig
from spine_synthseg.data.slice_set import SliceSet
from spine_synthseg.data.sources import SourceConfig, load_slice_set
from spine_synthseg.data.splits import split_patients


def load_source(source: dict, preprocess: dict, cache_dir: str | Path | None) -> SliceSet:
    """The preprocessed slices of a ``source`` config node at the ``preprocess`` settings (cached)."""
    return load_slice_set(SourceConfig.from_dict(source), PreprocessConfig.from_dict(preprocess), cache_dir)


def load_splits(source: dict, preprocess: dict, split: dict, cache_dir: str | Path | None
                ) -> tuple[SliceSet, dict[str, list[str]]]:
    """The preprocessed source and its patient-level split (deterministic in ``split.seed``)."""
    slices = load_source(source, preprocess, cache_dir)
    return slices, split_patients(slices.patient_ids, dict(split["fractions"]), int(split["seed"]))
