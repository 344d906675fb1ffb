"""The catalogue of evaluation families (``conf/catalog/default.yaml``): each family declared once, read here.

A family is a set of real slices with a role (validation, shift_validation, test, home_field), the data it reads,
the subjects it holds (from the run's split or the data's own ``dataset.json``, never typed), how it is scored and
its display name. ``records`` gives a family's slices; ``label`` its name with the subject count of a result row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spine_synthseg.data.catalog import load_native
from spine_synthseg.data.png_folder import load_dataset_json
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.errors import ConfigError, DataError
from spine_synthseg.structures import CANAL

ROLES = ("validation", "shift_validation", "test", "home_field")
SCORINGS = ("structures", "bodies", "volumes")
REQUIRED = ("test", "role", "scoring", "structure", "metric", "display", "unit")


@dataclass(frozen=True)
class Family:
    """One catalogue entry (see conf/catalog/default.yaml for the meaning of each field)."""

    name: str
    test: str
    variant: str | None
    role: str
    scoring: str
    structure: str
    metric: str
    display: str
    unit: str
    source: dict = field(default_factory=dict)
    subjects: dict = field(default_factory=dict)
    select: dict = field(default_factory=dict)
    base: str | None = None

    @property
    def key(self) -> tuple[str, str | None, str, str]:
        """(test, variant, structure, metric): the family's headline row in the long table."""
        return self.test, self.variant, self.structure, self.metric


def families(catalog: Mapping) -> dict[str, Family]:
    """{name: Family} of a ``catalog`` node (a resolved dict), in its order; a bad entry is a ConfigError naming it."""
    out = {}
    for name, entry in dict(catalog.get("families") or {}).items():
        where = f"catalog.families.{name}"
        missing = [k for k in REQUIRED if entry.get(k) in (None, "")]
        if missing:
            raise ConfigError(f"{where} lacks {missing}; every family needs {list(REQUIRED)} (conf/catalog/default.yaml).")
        if entry["role"] not in ROLES or entry["scoring"] not in SCORINGS:
            raise ConfigError(f"{where}: role={entry['role']!r}, scoring={entry['scoring']!r}; use a role of {ROLES} "
                              f"and a scoring of {SCORINGS}.")
        if entry["role"] == "home_field":
            if entry.get("base") not in dict(catalog["families"]):
                raise ConfigError(f"{where}: a home_field family needs `base`, the name of the family it perturbs.")
        elif not entry.get("variant") or not entry.get("source"):
            raise ConfigError(f"{where} needs a variant and a source (the data node it reads).")
        unknown = set(entry) - {f.name for f in Family.__dataclass_fields__.values()}
        if unknown:
            raise ConfigError(f"{where} has unknown keys {sorted(unknown)}.")
        out[name] = Family(name=name, **{k: (dict(v) if isinstance(v, Mapping) else v) for k, v in entry.items()
                                         if v is not None or k in ("variant", "base")})
    return out


def of_tests(catalog: Mapping, tests: Collection[str]) -> list[Family]:
    """The families of the evaluation groups `tests` (catalogue order); an unknown group is a ConfigError."""
    known = families(catalog)
    groups = list(dict.fromkeys(f.test for f in known.values()))
    unknown = [t for t in tests if t not in groups]
    if unknown:
        raise ConfigError(f"evaluation.tests has unknown tests {unknown}; use {groups} (conf/catalog/default.yaml).")
    return [f for f in known.values() if f.test in tests]


def subjects(family: Family, split: Mapping[str, Collection[str]] | None = None) -> list[str] | None:
    """The subject ids a family holds (None: every subject of its source, minus an excluded series list)."""
    spec = family.subjects
    if "split" in spec:
        if split is None or spec["split"] not in split:
            raise DataError(f"family {family.name} takes the {spec['split']!r} patients of a run's split; none was given.")
        return sorted(split[spec["split"]])
    if "dataset_key" in spec:
        root = Path(family.source["root"])
        listed = load_dataset_json(root).get(spec["dataset_key"])
        if not listed:
            raise DataError(f"{root}/dataset.json has no {spec['dataset_key']!r} list; family {family.name} needs it "
                            f"(see data/README.md).")
        return sorted(listed)
    if "series" in spec and not spec.get("exclude", False):
        return sorted(spec["series"])
    return None


def _check_series(family: Family, records: list[SliceRecord]) -> None:
    missing = sorted(set(family.subjects["series"]) - {r.patient_id for r in records})
    if missing:
        raise DataError(f"family {family.name} names series {missing} that {family.source['root']} does not hold; "
                        f"redraw the list with scripts/draw_tse_shift_validation.py.")


def mid_sagittal(records: list[SliceRecord], min_canal_mm2: float) -> list[SliceRecord]:
    """Slices whose labelled spinal canal covers at least min_canal_mm2 (the canal is widest mid-sagittally)."""
    return [r for r in records if r.annotated[CANAL - 1]
            and (r.structures == CANAL).sum() * r.spacing_mm[0] * r.spacing_mm[1] >= min_canal_mm2]


def select(family: Family, records: list[SliceRecord]) -> list[SliceRecord]:
    """The slices of `records` (the family's subjects) that its `select` filter keeps."""
    spec = family.select
    if "min_canal_mm2" in spec:
        return mid_sagittal(records, float(spec["min_canal_mm2"]))
    if "tag" in spec:
        return [r for r in records if r.tags.get(spec["tag"]) == spec["value"]]
    if spec:
        raise ConfigError(f"catalog.families.{family.name}.select={spec}; use {{min_canal_mm2: A}} or {{tag: T, value: V}}.")
    return records


def records(family: Family, split: Mapping[str, Collection[str]] | None = None,
            loaded: dict | None = None) -> list[SliceRecord]:
    """The native slices of a family (its subjects, then its filter). loaded: a cache {source: records} shared by
    the families of one evaluation, so a folder that several families read whole is read once."""
    loaded = {} if loaded is None else loaded
    spec, wanted = family.subjects, subjects(family, split)
    if "series" in spec or wanted is None:
        key = repr(sorted(family.source.items()))
        if key not in loaded:
            loaded[key] = load_native(family.source)
        kept = loaded[key]
        if "series" in spec:
            _check_series(family, kept)
            chosen = set(spec["series"])
            kept = [r for r in kept if (r.patient_id in chosen) != bool(spec.get("exclude", False))]
    else:
        kept = load_native(family.source, wanted)
    return select(family, kept)


@dataclass(frozen=True)
class VolumeRecord:
    """One whole volume of a volume family: its subject id, image and mask files (read when scored)."""

    subject: str
    image: Path
    mask: Path


def volumes(family: Family) -> list[VolumeRecord]:
    """The volumes of a ``volume_folder`` family (images/<id>.nii.gz with masks/<id>.nii.gz) for its subjects; a
    listed subject without both files is a DataError naming it."""
    root = Path(family.source["root"])
    if family.source.get("format") != "volume_folder":
        raise ConfigError(f"catalog.families.{family.name}: scoring volumes reads a source of format volume_folder.")
    wanted = subjects(family)
    if wanted is None:
        wanted = sorted(p.name.split(".")[0] for p in (root / "images").glob("*.nii.gz"))
    out = []
    for subject in wanted:
        image, mask = root / "images" / f"{subject}.nii.gz", root / "masks" / f"{subject}.nii.gz"
        for path in (image, mask):
            if not path.is_file():
                raise DataError(f"{path} does not exist, but {root}/dataset.json lists subject {subject}; restore "
                                f"the file (see data/README.md).")
        out.append(VolumeRecord(subject, image, mask))
    if not out:
        raise DataError(f"{root}/images holds no .nii.gz volume for family {family.name}.")
    return out


def label(family: Family, n_subjects: int | str | None, descriptive_below: int) -> str:
    """The family's name in a table: display name, subject count (from a result row) and "descriptive" when too few
    subjects for a test; e.g. "<display> (4 patients, descriptive)"."""
    if n_subjects in (None, ""):
        return family.display
    n = int(float(n_subjects))
    return f"{family.display} ({n} {family.unit}{', descriptive' if n < descriptive_below else ''})"


def catalog_of(cfg=None) -> dict:
    """The resolved ``catalog`` node of a composed config (None: the project's default configuration)."""
    from spine_synthseg.config import compose_config, to_dict

    return to_dict((cfg if cfg is not None else compose_config()).catalog)


def models(catalog: Mapping) -> dict[str, dict]:
    """{model name: {display, short, colour}} of the catalogue, in its order."""
    return {k: dict(v) for k, v in dict(catalog.get("models") or {}).items()}


def headline_keys(catalog: Mapping, names: Collection[str] | None = None) -> dict[str, tuple]:
    """{family name: (test, variant, structure, metric)} of the test families (or of `names`, in their order)."""
    known = families(catalog)
    chosen = names if names is not None else [n for n, f in known.items() if f.role == "test"]
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ConfigError(f"families {unknown} are not in the catalogue; use {list(known)}.")
    return {n: known[n].key for n in chosen}
