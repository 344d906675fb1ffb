"""Markdown tables of an evaluation summary (``aggregation.summarise``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spine_synthseg.evaluation.aggregation import STRUCTURES


def _fmt(m: float, lo: float, hi: float) -> str:
    return "n/a" if np.isnan(m) else f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def write_summary_md(summary: dict, path: Path) -> None:
    """Markdown tables: one per test family, Dice mean [CI] per model, and the paired difference."""
    models = summary["models"]
    agg = {(r["model"], r["test"], r["variant"], r["structure"]): r for r in summary["aggregates"]}
    diff = {(r["test"], r["variant"], r["structure"]): r for r in summary["paired_differences"]}
    pct = int(round(summary["confidence"] * 100))
    paired = f" Difference: {models[0]} - {models[1]}, paired per patient." if len(models) > 1 else ""
    lines = [f"# Evaluation summary\n\nDice: mean over patients [{pct}% bootstrap CI over patients]. "
             f"HD95 in mm (mean over patients).{paired} Patients of protocol_shift are the exporter's series ids.\n"]
    for test in dict.fromkeys(r["test"] for r in summary["aggregates"]):
        lines.append(f"\n## {test}\n")
        header = "| variant | structure | " + " | ".join(f"{m} Dice" for m in models)
        header += " | " + " | ".join(f"{m} HD95" for m in models)
        header += " | difference |" if len(models) > 1 else " |"
        lines += [header, "|" + "---|" * (header.count("|") - 1)]
        variants = dict.fromkeys(r["variant"] for r in summary["aggregates"] if r["test"] == test)
        for variant in variants:
            for s in STRUCTURES:
                cells = [agg.get((m, test, variant, s)) for m in models]
                if all(c is None for c in cells):
                    continue
                row = f"| {variant} | {s} | " + " | ".join(
                    _fmt(c["dice_mean"], c["ci_low"], c["ci_high"]) if c else "n/a" for c in cells)
                row += " | " + " | ".join(f"{c['hd95_mm']:.1f}" if c and not np.isnan(c["hd95_mm"]) else "n/a" for c in cells)
                if len(models) > 1:
                    d = diff.get((test, variant, s))
                    row += " | " + (_fmt(d["diff_mean"], d["ci_low"], d["ci_high"]) if d else "n/a")
                lines.append(row + " |")
    path.write_text("\n".join(lines) + "\n")
