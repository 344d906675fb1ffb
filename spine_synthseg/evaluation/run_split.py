"""The patient split that evaluated checkpoints were trained with, and the guard that keeps their training and
validation patients out of every scored family.

A checkpoint stores its split (``SegmentationModule`` hparam ``splits``: source folder name and the train / val /
test patient ids). Evaluation scores the checkpoints on that split: their stored test patients must agree, the
configured ``source`` and ``split`` must give the same split (``split.seed=7`` on a run trained with seed 42 would
put training patients into the test set: refused, naming them), and no family may hold a training patient, nor a
validation patient outside the validation family. Checkpoints saved before runs stored their split get the
config's split, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig

from spine_synthseg.config import to_dict
from spine_synthseg.data.catalog import source_split
from spine_synthseg.errors import DataError

log = logging.getLogger(__name__)
PARTS = ("train", "val", "test")


def config_split(cfg: DictConfig) -> dict:
    """The split that ``source`` and ``split`` of the config give: {"source": folder name, "train", "val", "test"}."""
    splits = source_split(to_dict(cfg.source), to_dict(cfg.split))
    return {"source": Path(cfg.source.root).name, **splits}


def _differs(a: Mapping, b: Mapping) -> bool:
    return a["source"] != b["source"] or any(sorted(a[k]) != sorted(b[k]) for k in PARTS)


def run_split(cfg: DictConfig, stored: Mapping[str, Mapping | None]) -> dict:
    """The one split of the checkpoints `stored` ({name: its stored split, or None for older checkpoints}).

    Raises DataError when two checkpoints' stored test patients (or sources) differ, or when the config's split
    differs from theirs; the message names the checkpoints and the patients."""
    configured = config_split(cfg)
    legacy = sorted(n for n, s in stored.items() if not s)
    if legacy:
        log.warning("%s store no patient split (saved before runs stored theirs): they are scored on the config's "
                    "split (split.seed=%s).", ", ".join(legacy), cfg.split.seed)
    splits = {n: ({"source": configured["source"], **s} if "source" not in s else dict(s)) if s else configured
              for n, s in stored.items()}
    if not splits:
        return configured
    first, *others = sorted(splits)
    for name in others:
        a, b = splits[first], splits[name]
        if a["source"] != b["source"] or sorted(a["test"]) != sorted(b["test"]):
            raise DataError(
                f"checkpoints {first} and {name} were trained with different test patients ({first}: source "
                f"{a['source']}, test {sorted(a['test'])}; {name}: source {b['source']}, test {sorted(b['test'])}); "
                f"evaluate them in separate runs.")
    owned = splits[first]
    if owned["source"] != configured["source"]:
        raise DataError(f"checkpoint {first} was trained on source {owned['source']}, but the config's source is "
                        f"{configured['source']}; evaluate with the source it was trained on.")
    if _differs(owned, configured):
        seen = set(owned["train"]) | set(owned["val"])
        leaked = (set(configured["test"]) & seen) | (set(configured["val"]) & set(owned["train"]))
        leaked = sorted(leaked, key=lambda p: (len(p), p))
        raise DataError(
            f"the config's split (split.seed={cfg.split.seed}, fractions {dict(cfg.split.fractions)}) differs from "
            f"the one checkpoint {first} was trained with: it would score patients {leaked} that the run trained or "
            f"validated on (the run's test patients: {sorted(owned['test'], key=lambda p: (len(p), p))}). A run is "
            f"evaluated on its own split: drop the split overrides.")
    return owned


def guard(cases, split: Mapping) -> None:
    """DataError if a case of the split's source holds a training patient, or a validation patient outside the
    ``validation`` family; names the family and the patients."""
    train, val = set(split["train"]), set(split["val"])
    for case in cases:
        patients = {r.patient_id for r in case.records if r.source == split["source"]}
        bad = patients & train if case.test == "validation" else patients & (train | val)
        if bad:
            raise DataError(f"evaluation family {case.test} ({case.variant}) holds patients {sorted(bad)} that the "
                            f"checkpoints were trained or validated on; it must not.")
