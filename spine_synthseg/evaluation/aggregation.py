"""Aggregate evaluation rows per patient: means with bootstrap CIs over patients and paired model differences.

A row is one image x structure of one model and test variant (``evaluate.case_rows``). Values are averaged
slice -> series -> patient (a series is one acquisition; a patient can have several, e.g. external T1 and T2 of
one exam), and CIs are percentile bootstraps over patients. For Dice, "mean" is the per-image mean over the
structures scored in that image, averaged the same way. External rows are also grouped by their sequence
(variant "sequence=<name>"). Output is long: one entry per (model, test, variant, structure, metric).
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

import numpy as np

from spine_synthseg.evaluation.cases import TESTS
from spine_synthseg.evaluation.metrics import bootstrap_ci

STRUCTURES = ("vertebra", "disc", "canal", "mean", "vertebral_body")
METRICS = ("dice", "hd95_mm", "assd_mm", "vb_dice", "vb_recall", "vb_fp_far")
PAIRED_METRICS = ("dice", "vb_dice", "vb_recall", "vb_fp_far")


def with_sequence_groups(rows: list[dict]) -> list[dict]:
    """The rows plus a copy of each external row under variant "sequence=<its sequence>"."""
    return rows + [{**r, "variant": f"sequence={r['sequence']}"} for r in rows if r["test"] == "external"]


def patient_values(rows: list[dict], metric: str) -> dict[tuple, dict[str, float]]:
    """{(model, test, variant, structure): {patient: value}}, averaged image -> series -> patient."""
    per_image = defaultdict(dict)  # (model, test, variant, patient, series, image) -> {structure: value}
    for r in rows:
        v = r.get(metric, float("nan"))
        if v == v:  # not NaN
            per_image[(r["model"], r["test"], r["variant"], r["patient"], r["series"], r["image"])][r["structure"]] = v
    per_series = defaultdict(list)
    for (model, test, variant, patient, series, _), values in per_image.items():
        if metric == "dice":
            values = {**values, "mean": float(np.mean(list(values.values())))}
        for structure, v in values.items():
            per_series[(model, test, variant, structure, patient, series)].append(v)
    per_patient = defaultdict(list)
    for (model, test, variant, structure, patient, _), values in per_series.items():
        per_patient[(model, test, variant, structure, patient)].append(float(np.mean(values)))
    out = defaultdict(dict)
    for (model, test, variant, structure, patient), values in per_patient.items():
        out[(model, test, variant, structure)][patient] = float(np.mean(values))
    return dict(out)


def _order(models: list[str]):
    tests = {t: i for i, t in enumerate(TESTS)}
    return lambda k: (models.index(k[0]) if k[0] in models else 0, tests.get(k[1], 99), k[2], STRUCTURES.index(k[3]))


def summarise(rows: list[dict], models: list[str], n_boot: int, confidence: float, seed: int) -> dict:
    """Per (model, test, variant, structure, metric): mean over patients with its bootstrap CI; and, for every
    pair of models (first - second), the paired per-patient difference with its CI."""
    rows = with_sequence_groups(rows)
    aggregates, paired = [], []
    for metric in METRICS:
        values = patient_values(rows, metric)
        for key in sorted(values, key=_order(models)):
            m, lo, hi = bootstrap_ci(np.array(list(values[key].values())), n_boot, confidence, seed)
            aggregates.append({"model": key[0], "test": key[1], "variant": key[2], "structure": key[3],
                               "metric": metric, "mean": m, "ci_low": lo, "ci_high": hi,
                               "n_patients": len(values[key])})
        if metric not in PAIRED_METRICS:
            continue
        for a, b in combinations(models, 2):
            for key in sorted((k for k in values if k[0] == a), key=_order(models)):
                other = (b,) + key[1:]
                if other not in values:
                    continue
                common = sorted(set(values[key]) & set(values[other]))
                diffs = np.array([values[key][p] - values[other][p] for p in common])
                m, lo, hi = bootstrap_ci(diffs, n_boot, confidence, seed)
                paired.append({"model_a": a, "model_b": b, "test": key[1], "variant": key[2], "structure": key[3],
                               "metric": metric, "diff_mean": m, "ci_low": lo, "ci_high": hi,
                               "n_patients": len(common)})
    return {"models": models, "confidence": confidence, "bootstrap_samples": n_boot, "aggregates": aggregates,
            "paired_differences": paired}
