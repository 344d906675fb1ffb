"""Load a configured data source (PNG folder or SPIDER release) as a preprocessed, cached SliceSet."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spine_synthseg.data.png_folder import png_patient_ids, read_png_folder
from spine_synthseg.data.preprocess import PreprocessConfig, preprocess_records
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.data.slice_set import SliceSet
from spine_synthseg.data.spider_mha import read_spider_folder
from spine_synthseg.errors import DataError

log = logging.getLogger(__name__)

FORMATS = ("png_folder", "spider_mha")
CACHE_VERSION = 5  # bump when preprocessing code changes what it writes (5: background tissue classes)


@dataclass(frozen=True)
class SourceConfig:
    """root: folder of the source. format: png_folder | spider_mha. sequence: name recorded on every
    slice (for spider_mha it selects the volumes: t1, t2 or t2_SPACE). patient_id_pattern, unannotated_if_absent,
    on_empty, patient_of_series: see ``png_folder.read_png_folder``."""

    root: str
    format: str = "png_folder"
    sequence: str = "t2_SPACE"
    patient_id_pattern: str = r"^([^_]+)_"
    unannotated_if_absent: tuple[str, ...] = ()
    on_empty: str = "error"
    max_slices_per_volume: int = 5
    patient_of_series: dict = field(default_factory=dict)
    name: str = field(default="")

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise DataError(f"data source format {self.format!r} is unknown; use one of {FORMATS}.")

    @classmethod
    def from_dict(cls, source: dict) -> "SourceConfig":
        """From a plain config dict (a ``source`` node; lists become tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in source.items()})


def _fingerprint(source: SourceConfig, prep: PreprocessConfig) -> str:
    root = Path(source.root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    listing = [(str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    blob = json.dumps([CACHE_VERSION, asdict(source), asdict(prep), listing], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def read_records(source: SourceConfig, patients: Collection[str] | None = None) -> tuple[list[SliceRecord], dict]:
    """The source's slices at their native grid (all, or only `patients`') and the reader's report."""
    _check_root(source)
    if source.format == "png_folder":
        return read_png_folder(source.root, source.sequence, source.patient_id_pattern,
                               tuple(source.unannotated_if_absent), source.on_empty, source.patient_of_series, patients)
    records, report = read_spider_folder(source.root, source.sequence, source.max_slices_per_volume)
    if patients is not None:
        records = [r for r in records if r.patient_id in patients]
    return records, report


def patient_ids(source: SourceConfig) -> list[str]:
    """The patient id of every slice of the source (``read_records``'s); a PNG folder that skips no slice gives
    them from its file names without reading an image."""
    _check_root(source)
    if source.format == "png_folder" and source.on_empty == "error":
        return png_patient_ids(source.root, source.patient_id_pattern, source.patient_of_series)
    return [r.patient_id for r in read_records(source)[0]]


def _check_root(source: SourceConfig) -> None:
    if not Path(source.root).is_dir():
        raise DataError(
            f"Data folder {source.root} does not exist. Put ../shared/data beside the checkout (see data/README.md) "
            f"or set source.root / SPINE_SYNTHSEG_DATA."
        )


def load_slice_set(source: SourceConfig, prep: PreprocessConfig, cache_dir: str | Path | None) -> SliceSet:
    """Read, preprocess and cache a source; a second call with unchanged files and settings reads the cache."""
    _check_root(source)
    cache_path = None
    if cache_dir is not None:
        cache_path = Path(cache_dir) / f"{Path(source.root).name}_{source.sequence}_{_fingerprint(source, prep)}.pt"
        if cache_path.is_file():
            log.info("Using cached slices %s", cache_path)
            return SliceSet.load(cache_path)
    records, report = read_records(source)
    log.info("Read %s: %s", source.root, report)
    slices = preprocess_records(records, prep)
    slices.image = slices.image.half().float()  # the cache stores half precision: first and later runs see the same
    if cache_path is not None:
        slices.save(cache_path)
        log.info("Cached %d slices at %s", len(slices), cache_path)
    return slices
