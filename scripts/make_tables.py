"""Markdown tables for README.md / ANALYSIS_REPORT.md, read from the committed results (no number typed by hand).

  python scripts/make_tables.py results > results/tables.md
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

HEADLINE = [
    ("standard", "t2_space", "T2 SPACE test patients (in-domain)"),
    ("protocol_shift", "t2_tse", "T2 TSE, other protocol and patients (all 52 slices)"),
    ("contrast", "gamma_2.0", "contrast perturbation: gamma 2"),
    ("contrast", "inversion", "contrast perturbation: inversion"),
    ("contrast", "piecewise_shuffle", "contrast perturbation: non-monotone shuffle"),
    ("resolution", "iso_3mm", "resolution: 3 mm isotropic"),
    ("resolution", "iso_4mm", "resolution: 4 mm isotropic"),
    ("resolution", "iso_6mm", "resolution: 6 mm isotropic"),
    ("resolution", "thick_6mm", "resolution: 6 mm thick-slice (SI)"),
]


def read(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path)))


def headline(root: Path, structure: str = "mean") -> str:
    seeds = {(r["model"], r["test"], r["variant"], r["structure"]): r for r in read(root / "default" / "across_seeds.csv")}
    diffs = {(r["test"], r["variant"], r["structure"]): r for r in read(root / "default" / "paired_differences_across_seeds.csv")}
    lines = ["| real test set | Model A (synthetic only) | Model B (real only) | A - B | seeds where the 95% CI of A - B is above / below 0 |",
             "|---|---|---|---|---|"]
    for test, variant, label in HEADLINE:
        a, b = seeds.get(("model_a", test, variant, structure)), seeds.get(("model_b", test, variant, structure))
        d = diffs.get((test, variant, structure))
        if not (a and b and d):
            continue
        fmt = lambda r: f"{float(r['dice_mean_over_seeds']):.3f} ± {float(r['dice_sd_over_seeds']):.3f}"  # noqa: E731
        lines.append(f"| {label} | {fmt(a)} | {fmt(b)} | {float(d['diff_mean_over_seeds']):+.3f} | "
                     f"{d['seeds_with_ci_above_0']} / {d['seeds_with_ci_below_0']} of {d['n_seeds']} |")
    return "\n".join(lines)


def per_structure(root: Path, test: str, variant: str) -> str:
    seeds = {(r["model"], r["test"], r["variant"], r["structure"]): r for r in read(root / "default" / "across_seeds.csv")}
    lines = ["| structure | Model A | Model B |", "|---|---|---|"]
    for s in ("vertebra", "disc", "canal", "mean"):
        a, b = seeds[("model_a", test, variant, s)], seeds[("model_b", test, variant, s)]
        lines.append(f"| {s} | {float(a['dice_mean_over_seeds']):.3f} ± {float(a['dice_sd_over_seeds']):.3f} | "
                     f"{float(b['dice_mean_over_seeds']):.3f} ± {float(b['dice_sd_over_seeds']):.3f} |")
    return "\n".join(lines)


def slice_position(root: Path) -> str:
    rows = read(root / "default" / "protocol_shift_by_slice_position.csv")
    lines = ["| T2 TSE slices | structure | Model A | Model B | images |", "|---|---|---|---|---|"]
    for pos in ("mid_sagittal", "lateral"):
        for s in ("vertebra", "disc", "canal", "mean"):
            vals = {m: [float(r["dice_mean"]) for r in rows if r["model"] == m and r["slice_position"] == pos
                        and r["structure"] == s] for m in ("model_a", "model_b")}
            n = next((r["n_images"] for r in rows if r["slice_position"] == pos and r["structure"] == s), None)
            if vals["model_a"]:
                lines.append(f"| {pos} | {s} | {sum(vals['model_a']) / len(vals['model_a']):.3f} | "
                             f"{sum(vals['model_b']) / len(vals['model_b']):.3f} | {n} |")
    return "\n".join(lines)


def sweep(root: Path) -> str:
    rows = read(root / "sweeps" / "grouped_summary.csv")
    groups = ["in_domain_t2space", "protocol_t2tse", "contrast_perturbed", "resolution_3_6mm"]
    table = {(r["run"], r["group"]): float(r["dice_mean"]) for r in rows if r["structure"] == "mean"}
    runs = list(dict.fromkeys(r["run"] for r in rows))
    lines = ["| run (400 steps, seed 0) | " + " | ".join(groups) + " |", "|---|" + "---|" * len(groups)]
    for run in runs:
        lines.append(f"| {run} | " + " | ".join(f"{table.get((run, g), float('nan')):.3f}" for g in groups) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    root = Path(sys.argv[1])
    print("## Headline (mean Dice over vertebra, disc, canal)\n\n" + headline(root))
    for test, variant in (("standard", "t2_space"), ("protocol_shift", "t2_tse")):
        print(f"\n## {test} / {variant} per structure\n\n" + per_structure(root, test, variant))
    if (root / "default" / "protocol_shift_by_slice_position.csv").is_file():
        print("\n## T2 TSE by slice position\n\n" + slice_position(root))
    if (root / "sweeps" / "grouped_summary.csv").is_file():
        print("\n## Sweeps\n\n" + sweep(root))
