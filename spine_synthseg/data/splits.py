"""Deterministic patient-level train / val / test splits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spine_synthseg.errors import DataError


def split_patients(patient_ids: list[str], fractions: dict[str, float], seed: int) -> dict[str, list[str]]:
    """Shuffle the unique patients with `seed` and cut them by `fractions` (must sum to 1, each split non-empty).

    The same patients, fractions and seed always give the same split; no patient is in two splits.
    """
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-6 or any(f <= 0 for f in fractions.values()):
        raise DataError(f"split.fractions={fractions} must be positive and sum to 1 (they sum to {total:.3f}).")
    patients = sorted(set(patient_ids), key=lambda p: (len(p), p))
    if len(patients) < len(fractions):
        raise DataError(f"{len(patients)} patients cannot fill {len(fractions)} splits; add data or use fewer splits.")
    order = [patients[i] for i in np.random.RandomState(seed).permutation(len(patients))]
    names = list(fractions)
    counts = [max(1, round(fractions[n] * len(patients))) for n in names[:-1]]
    counts.append(len(patients) - sum(counts))
    if counts[-1] < 1:
        raise DataError(f"split.fractions={fractions} leave split {names[-1]!r} empty for {len(patients)} patients.")
    out, start = {}, 0
    for name, count in zip(names, counts):
        out[name] = sorted(order[start : start + count], key=lambda p: (len(p), p))
        start += count
    return out


def save_splits(splits: dict[str, list[str]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(splits, indent=2))
