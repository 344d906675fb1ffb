"""The two validation axes of the realism / randomisation screen, from long tables (``collect``).

  in_domain  mean Dice on the T2 SPACE validation patients (family validation, variant t2_space);
  shift      the mean of shift_dixon (vb_dice on external_dixon's 12 shift-validation subjects) and shift_tse (mean
             Dice on the shift-validation third of the T2 TSE series); both parts are reported too.
Settings are chosen on these axes only; no test family enters here. A variant pools its seeds: the CIs are
``collect``'s two-level bootstrap (patients, then seeds); the shift CI combines independent draws of its two parts
(their patients differ), and each difference to the baseline is paired over patients within each part.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.collect import bootstrap_draws, index, matrix, percentile_ci, seed_sd

AXES = {"in_domain": ("validation", "t2_space", "mean", "dice"),
        "shift_dixon": ("shift_validation", "dixon_water", "vertebral_body", "vb_dice"),
        "shift_tse": ("shift_validation", "t2_tse", "mean", "dice")}
SHIFT_PARTS = ("shift_dixon", "shift_tse")
REPORTED = ("in_domain", "shift", *SHIFT_PARTS)


def relabel(long: list[dict], variant: str, seed: int | str) -> list[dict]:
    """One run's long table with its model renamed to the variant and its seed set (pooling a variant's runs)."""
    return [{**r, "model": variant, "seed": str(seed)} for r in long]


def _matrices(idx: dict, variant: str, patients: dict[str, list[str]] | None = None) -> dict[str, np.ndarray]:
    out = {}
    for axis, key in AXES.items():
        values = idx.get((variant, *key))
        if values is None:
            raise DataError(f"{variant} has no {axis} rows ({'/'.join(key)}); score it with "
                            "evaluation.tests=[validation,shift_validation].")
        cols = patients[axis] if patients else sorted({p for v in values.values() for p in v})
        out[axis] = matrix(values, cols)
    return out


def run_values(long: list[dict]) -> dict[str, float]:
    """One run's point values on each axis (mean over patients), shift = mean of its two parts."""
    idx = index(long)
    (variant,) = {k[0] for k in idx}
    m = {axis: float(np.nanmean(a)) for axis, a in _matrices(idx, variant).items()}
    return {"in_domain": m["in_domain"], "shift": (m["shift_dixon"] + m["shift_tse"]) / 2,
            "shift_dixon": m["shift_dixon"], "shift_tse": m["shift_tse"]}


def _axis_draws(mats: Sequence[dict[str, np.ndarray]], signs: Sequence[float], n_boot: int, seed: int
                ) -> dict[str, np.ndarray]:
    """Bootstrap draws of each reported axis for sum_k signs[k] * variant_k (paired over patients per part)."""
    draws = {}
    for i, axis in enumerate(AXES):
        draws[axis] = bootstrap_draws([m[axis] for m in mats], signs, n_boot, np.random.default_rng(seed + i))
    draws["shift"] = (draws["shift_dixon"] + draws["shift_tse"]) / 2
    return draws


def _estimate(mats: Sequence[dict[str, np.ndarray]], signs: Sequence[float]) -> dict[str, float]:
    est = {axis: float(sum(s * np.nanmean(np.nanmean(m[axis], 0)) for m, s in zip(mats, signs))) for axis in AXES}
    est["shift"] = (est["shift_dixon"] + est["shift_tse"]) / 2
    return est


def pareto_front(points: dict[str, tuple[float, float]]) -> set[str]:
    """The names whose (x, y) no other point matches or beats on both axes and beats on one (higher is better)."""
    return {n for n, (x, y) in points.items()
            if not any(x2 >= x and y2 >= y and (x2 > x or y2 > y) for m, (x2, y2) in points.items() if m != n)}


def summarise_axes(long: list[dict], baseline: str | None, n_boot: int, confidence: float, seed: int) -> list[dict]:
    """One row per variant (the long table's models, pooled seeds): each reported axis's mean, CI and seed SD,
    its difference to `baseline` with a paired CI, n_seeds, and whether the variant is on the
    (in_domain, shift) front."""
    idx = index(long)
    variants = sorted({k[0] for k in idx})
    if baseline is not None and baseline not in variants:
        raise DataError(f"the baseline {baseline!r} is not among the variants {variants}.")
    variants = sorted(variants, key=lambda v: v != baseline)  # the baseline first
    mats = {v: _matrices(idx, v) for v in variants}
    rows = []
    for v in variants:
        row = {"variant": v, "n_seeds": mats[v]["in_domain"].shape[0]}
        est, draws = _estimate([mats[v]], [1.0]), _axis_draws([mats[v]], [1.0], n_boot, seed)
        for axis in REPORTED:
            lo, hi = percentile_ci(draws[axis], confidence)
            row |= {axis: est[axis], f"{axis}_ci_low": lo, f"{axis}_ci_high": hi}
        for axis in AXES:
            row[f"{axis}_seed_sd"] = seed_sd(mats[v][axis])
        if baseline is not None:
            row |= {f"{a}_diff{x}": float("nan") for a in ("in_domain", "shift") for x in ("", "_ci_low", "_ci_high")}
        if baseline is not None and v != baseline:
            common = {a: sorted(set(_cols(idx, v, a)) & set(_cols(idx, baseline, a))) for a in AXES}
            pair = [_matrices(idx, v, common), _matrices(idx, baseline, common)]
            est, draws = _estimate(pair, [1.0, -1.0]), _axis_draws(pair, [1.0, -1.0], n_boot, seed)
            for axis in ("in_domain", "shift"):
                lo, hi = percentile_ci(draws[axis], confidence)
                row |= {f"{axis}_diff": est[axis], f"{axis}_diff_ci_low": lo, f"{axis}_diff_ci_high": hi}
        rows.append(row)
    front = pareto_front({r["variant"]: (r["in_domain"], r["shift"]) for r in rows})
    for r in rows:
        r["on_front"] = r["variant"] in front
    return rows


def _cols(idx: dict, variant: str, axis: str) -> list[str]:
    return sorted({p for v in idx[(variant, *AXES[axis])].values() for p in v})
