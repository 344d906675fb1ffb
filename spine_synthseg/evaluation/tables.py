"""Markdown tables of an evaluation summary (``collect.evaluation_summary``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spine_synthseg.data import families
from spine_synthseg.evaluation.aggregation import STRUCTURES, VOLUME_METRICS

# the score shown per structure: Dice, or vertebral-body Dice where only bodies are labelled
MAIN_METRIC = {"vertebral_body": "vb_dice"}
HOME_FIELD = "home-field: built from the generator's own operators / intensity model"
VALIDATION = "real images, validation: for choosing settings, never a test"
KIND = {"test": "real images", "validation": VALIDATION, "shift_validation": VALIDATION, "home_field": HOME_FIELD}


def _fmt(m: float, lo: float, hi: float) -> str:
    return "n/a" if np.isnan(m) else f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def _metrics(metric: str) -> list[str]:
    """The metrics a summary row shows for a family whose headline metric is `metric`: every volume metric for a
    volume family, else that metric."""
    return [metric, *[m for m in VOLUME_METRICS if m != metric]] if metric in VOLUME_METRICS else [metric]


def write_summary_md(summary: dict, catalog: dict, path: Path) -> None:
    """One table per test family: per variant and structure, the mean [CI] of each model, HD95, and the paired
    difference of the first two models. Real-image tests first; home-field tests are labelled as such."""
    models = summary["models"]
    agg = {(r["model"], r["test"], r["variant"], r["structure"], r["metric"]): r for r in summary["aggregates"]}
    diff = {(r["model_a"], r["model_b"], r["test"], r["variant"], r["structure"], r["metric"]): r
            for r in summary["paired_differences"]}
    pct = int(round(summary["confidence"] * 100))
    pair = models[:2]
    lines = [f"# Evaluation summary\n\nWhole slices, scored at their native grid. Mean over patients "
             f"[{pct}% bootstrap CI over patients]; Dice unless stated (external: vertebral-body Dice, "
             f"`vb_dice`). HD95 in mm, mean over patients."
             + (f" Difference: {pair[0]} - {pair[1]}, paired per patient." if len(models) > 1 else "") + "\n"]
    present = {r["test"] for r in summary["aggregates"]}
    known = families.families(catalog).values()
    role = {f.test: f.role for f in known}  # the groups in the catalogue's order
    headline_metric = {(f.test, f.variant, f.structure): f.metric for f in known}  # e.g. vb_dice3d for volumes
    for test in [t for t in role if t in present]:
        kind = KIND[role[test]]
        lines.append(f"\n## {test} ({kind})\n")
        header = "| variant | structure | " + " | ".join(models) + " | " + " | ".join(f"{m} HD95" for m in models)
        header += " | difference |" if len(models) > 1 else " |"
        lines += [header, "|" + "---|" * (header.count("|") - 1)]
        variants = dict.fromkeys(r["variant"] for r in summary["aggregates"] if r["test"] == test)
        for variant in variants:
            for s, metric in [(s, m) for s in STRUCTURES for m in _metrics(headline_metric.get(
                    (test, variant, s), MAIN_METRIC.get(s, "dice")))]:
                cells = [agg.get((m, test, variant, s, metric)) for m in models]
                if all(c is None for c in cells):
                    continue
                row = f"| {variant} | {s} ({metric}) | " + " | ".join(
                    _fmt(c["mean"], c["ci_low"], c["ci_high"]) if c else "n/a" for c in cells)
                hds = [agg.get((m, test, variant, s, "hd95_mm")) for m in models]
                row += " | " + " | ".join(f"{h['mean']:.1f}" if h and not np.isnan(h["mean"]) else "n/a" for h in hds)
                if len(models) > 1:
                    d = diff.get((*pair, test, variant, s, metric))
                    row += " | " + (_fmt(d["diff_mean"], d["ci_low"], d["ci_high"]) if d else "n/a")
                lines.append(row + " |")
    path.write_text("\n".join(lines) + "\n")
