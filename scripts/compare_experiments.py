"""Paired comparison of two collected default experiments on the headline tests (e.g. the frozen reality-gap
configuration against the earlier short budget): per model and test, the per-patient values averaged over each
experiment's seeds, then new - old per patient with a percentile-bootstrap 95 % CI over the patients.

  python scripts/compare_experiments.py results/short_budget results results/reality_gap/frozen_vs_short_budget.csv

OLD and NEW are folders written by scripts/collect_default.py (default/per_patient.csv). Both experiments used
the same patients, seeds 0-2 and evaluation protocol; only the training configuration differs.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from collect_default import HEADLINE, MODELS, fmt, write_csv  # noqa: E402
from spine_synthseg.evaluation.metrics import bootstrap_ci  # noqa: E402


def seeds_of(results: Path) -> dict[str, set[str]]:
    """model -> the seeds its real-image tests were evaluated with."""
    with open(results / "default" / "per_patient.csv") as f:
        out: dict[str, set[str]] = defaultdict(set)
        for r in csv.DictReader(f):
            out[r["model"]].add(r["seed"])
    return dict(out)


def seed_averaged(results: Path) -> dict[tuple, dict[str, float]]:
    """(model, test, variant, structure, metric) -> {patient: value averaged over the seeds}."""
    path = results / "default" / "per_patient.csv"
    if not path.is_file():
        raise SystemExit(f"error: {path} not found; collect the experiment first (scripts/collect_default.py).")
    values: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(path) as f:
        for r in csv.DictReader(f):
            values[(r["model"], r["test"], r["variant"], r["structure"], r["metric"])][r["patient"]].append(float(r["value"]))
    return {k: {p: float(np.mean(v)) for p, v in d.items()} for k, d in values.items()}


def main(old_dir: Path, new_dir: Path, out: Path) -> None:
    old, new = seed_averaged(old_dir), seed_averaged(new_dir)
    old_seeds, new_seeds = seeds_of(old_dir), seeds_of(new_dir)
    differ = {m: (sorted(old_seeds.get(m, ())), sorted(new_seeds.get(m, ()))) for m in MODELS
              if old_seeds.get(m) != new_seeds.get(m) and m in old_seeds and m in new_seeds}
    if differ:
        raise SystemExit(f"error: {old_dir} and {new_dir} evaluated different seeds (model: old, new): {differ}.")
    rows = []
    for name, (test, variant, structure, metric, label) in HEADLINE.items():
        for model in MODELS:
            key = (model, test, variant, structure, metric)
            common = sorted(set(old.get(key, {})) & set(new.get(key, {})))
            if not common:
                continue
            m, lo, hi = bootstrap_ci(np.array([new[key][p] - old[key][p] for p in common]), 2000, 0.95, 0)
            rows.append({"test": name, "model": model, "metric": label,
                         "old_mean": fmt(np.mean([old[key][p] for p in common])),
                         "new_mean": fmt(np.mean([new[key][p] for p in common])),
                         "diff_mean": fmt(m), "ci_low": fmt(lo), "ci_high": fmt(hi), "n_patients": len(common)})
    if not rows:
        raise SystemExit(f"error: no headline test in common between {old_dir} and {new_dir}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out, rows)
    print(f"written {out} ({len(rows)} rows)")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
