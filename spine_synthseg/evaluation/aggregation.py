"""Aggregate evaluation rows per patient: means with bootstrap CIs and paired model differences.

A row is one image x structure of one model and test variant (``evaluate.case_rows``). Each patient's value is the
mean over that patient's images; "mean" is the per-image mean over the structures scored in that image, then
averaged the same way. Paired differences compare the first two models patient by patient.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from spine_synthseg.evaluation.cases import TESTS
from spine_synthseg.evaluation.metrics import bootstrap_ci

STRUCTURES = ("vertebra", "disc", "canal", "mean")


def _patient_means(rows: list[dict], key: str) -> dict[tuple, dict[str, float]]:
    """{(model, test, variant, structure): {patient: mean over that patient's images}}, with 'mean' = per-image
    mean over the structures scored in that image."""
    per_image = defaultdict(list)
    for r in rows:
        if not np.isnan(r[key]):
            per_image[(r["model"], r["test"], r["variant"], r["patient"], r["image"])].append(r[key])
            per_image_struct = (r["model"], r["test"], r["variant"], r["structure"], r["patient"])
            per_image[("S",) + per_image_struct].append(r[key])
    groups = defaultdict(lambda: defaultdict(list))
    for k, values in per_image.items():
        if k[0] == "S":
            _, model, test, variant, structure, patient = k
            groups[(model, test, variant, structure)][patient].extend(values)
        else:
            model, test, variant, patient, _ = k
            groups[(model, test, variant, "mean")][patient].append(float(np.mean(values)))
    return {k: {p: float(np.mean(v)) for p, v in d.items()} for k, d in groups.items()}


def summarise(rows: list[dict], models: list[str], n_boot: int, confidence: float, seed: int) -> dict:
    """Per (model, test, variant, structure): patient-level mean Dice with bootstrap CI, HD95 and ASSD;
    and, for the first two models, the paired per-patient difference (first - second) with its CI."""
    dice, hd, assd = (_patient_means(rows, k) for k in ("dice", "hd95_mm", "assd_mm"))
    aggregates = []
    order = {t: i for i, t in enumerate(TESTS)}
    for key in sorted(dice, key=lambda k: (models.index(k[0]), order[k[1]], k[2], STRUCTURES.index(k[3]))):
        values = np.array(list(dice[key].values()))
        m, lo, hi = bootstrap_ci(values, n_boot, confidence, seed)
        aggregates.append({
            "model": key[0], "test": key[1], "variant": key[2], "structure": key[3], "dice_mean": m,
            "ci_low": lo, "ci_high": hi, "n_patients": int(len(values)),
            "hd95_mm": float(np.mean(list(hd[key].values()))) if key in hd else float("nan"),
            "assd_mm": float(np.mean(list(assd[key].values()))) if key in assd else float("nan"),
        })
    paired = []
    if len(models) >= 2:
        a, b = models[0], models[1]
        for key in dice:
            if key[0] != a or (b,) + key[1:] not in dice:
                continue
            da, db = dice[key], dice[(b,) + key[1:]]
            common = sorted(set(da) & set(db))
            diffs = np.array([da[p] - db[p] for p in common])
            m, lo, hi = bootstrap_ci(diffs, n_boot, confidence, seed)
            paired.append({"model_a": a, "model_b": b, "test": key[1], "variant": key[2], "structure": key[3],
                           "diff_mean": m, "ci_low": lo, "ci_high": hi, "n_patients": len(common)})
        paired.sort(key=lambda r: (order[r["test"]], r["variant"], STRUCTURES.index(r["structure"])))
    return {"models": models, "confidence": confidence, "bootstrap_samples": n_boot, "aggregates": aggregates,
            "paired_differences": paired}
