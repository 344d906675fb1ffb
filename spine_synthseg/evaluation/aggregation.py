"""Per-patient values of evaluation rows: the one place where images become patients.

A row is one image x structure of one model and test variant (``evaluate.image_rows``). Values are averaged
image -> series -> patient (a series is one acquisition; a patient can have several, e.g. external T1 and T2 of
one exam). For Dice, "mean" is the per-image mean over the structures scored in that image, averaged the same
way. External rows are also grouped by their sequence (variant "sequence=<name>"). Statistics over patients and
seeds: ``collect``.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


STRUCTURES = ("vertebra", "disc", "canal", "mean", "vertebral_body")
VOLUME_METRICS = ("vb_dice3d", "vb_recall3d", "false_spine_ml", "false_spine_slices", "fp_far_ml")  # volume_metrics.py
METRICS = ("dice", "hd95_mm", "assd_mm", "vb_dice", "vb_recall", "vb_fp_far") + VOLUME_METRICS
PAIRED_METRICS = ("dice", "vb_dice", "vb_recall", "vb_fp_far") + VOLUME_METRICS


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
