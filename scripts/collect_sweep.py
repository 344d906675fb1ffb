"""Collect sweep runs into one CSV per sweep and plots (Dice vs strength, ablations vs baseline).

  python scripts/collect_sweep.py outputs/sweeps results/sweeps
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from collect_default import run_seconds  # noqa: E402
from tensorboard_export import export  # noqa: E402

GROUPS = {  # test group -> predicate on (test, variant)
    "in_domain_t2space": lambda t, v: t == "standard",
    "protocol_t2tse": lambda t, v: t == "protocol_shift",
    "contrast_perturbed": lambda t, v: t == "contrast",
    "resolution_3_6mm": lambda t, v: t == "resolution" and float(v.split("_")[1][:-2]) >= 3,
}
STRUCTURES = ("vertebra", "disc", "canal", "mean")


def run_rows(sweep: str, run: Path) -> list[dict]:
    metrics = json.loads((run / "metrics.json").read_text())
    overrides = (run / ".hydra" / "overrides.yaml").read_text().splitlines() if (run / ".hydra" / "overrides.yaml").is_file() else []
    label = ",".join(o.lstrip("- ").strip() for o in overrides if not any(
        k in o for k in ("trainer=", "evaluation=", "hydra/launcher", "threads=")))
    rows = []
    for r in metrics.get("test", {}).get("aggregates", []):
        rows.append({"sweep": sweep, "run": run.name, "overrides": label, "train_source": metrics["train_source"],
                     "strength": metrics.get("strength", (metrics.get("synth") or {}).get("strength")), "test": r["test"], "variant": r["variant"],
                     "structure": r["structure"], "dice_mean": r["dice_mean"], "ci_low": r["ci_low"],
                     "ci_high": r["ci_high"], "n_patients": r["n_patients"],
                     "val_real_dice_mean": metrics["validation"].get("val_real/dice_mean"),
                     "train_seconds": metrics["train_seconds"]})
    return rows


def grouped(rows: list[dict]) -> dict[tuple, float]:
    """(overrides, group, structure) -> mean Dice over the group's variants."""
    acc = defaultdict(list)
    for r in rows:
        for g, pred in GROUPS.items():
            if pred(r["test"], r["variant"]):
                acc[(r["overrides"], g, r["structure"])].append(r["dice_mean"])
    return {k: float(np.nanmean(v)) for k, v in acc.items()}


def plot_strength(rows: list[dict], baseline: dict, path: Path) -> None:
    g = grouped(rows)
    runs = sorted({(r["strength"], r["overrides"]) for r in rows})
    fig, axes = plt.subplots(1, len(GROUPS), figsize=(4.2 * len(GROUPS), 3.6), sharey=True)
    for ax, group in zip(axes, GROUPS):
        for i, s in enumerate(STRUCTURES):
            ax.plot([r[0] for r in runs], [g[(r[1], group, s)] for r in runs], marker="o", color=f"C{i}", label=f"A: {s}",
                    lw=2.5 if s == "mean" else 1.2)
            if (group, s) in baseline:
                ax.axhline(baseline[(group, s)], color=f"C{i}", ls=":", lw=1)
        ax.set_title(group)
        ax.set_xlabel("strength (randomisation=strength)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Dice (mean over patients)")
    axes[-1].legend(fontsize=7, title="dotted: Model B", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_ablations(rows: list[dict], path: Path) -> None:
    g = grouped(rows)
    labels = list(dict.fromkeys(r["overrides"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(labels)), 4.2))
    width = 0.8 / len(GROUPS)
    for i, group in enumerate(GROUPS):
        ax.bar(np.arange(len(labels)) + i * width, [g.get((lab, group, "mean"), np.nan) for lab in labels], width,
               label=group, color=f"C{i}")
    ax.set_xticks(np.arange(len(labels)) + width * (len(GROUPS) - 1) / 2)
    ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    ax.set_ylabel("mean Dice (vertebra, disc, canal)")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    all_rows = []
    for sweep_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        rows = [r for run in sorted(sweep_dir.iterdir()) if (run / "metrics.json").is_file() for r in run_rows(sweep_dir.name, run)]
        if not rows:
            continue
        with open(dst / f"{sweep_dir.name}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        all_rows += rows
    base_b = {(k[1], k[2]): v for k, v in grouped([r for r in all_rows if r["train_source"] == "real"]).items()}
    strength = [r for r in all_rows if r["sweep"] == "strength"]
    if strength:
        plot_strength(strength, base_b, dst / "dice_vs_strength.png")
    plot_ablations(all_rows, dst / "ablations.png")
    table = grouped(all_rows)
    lines = ["run,group,structure,dice_mean"] + [f"\"{k[0]}\",{k[1]},{k[2]},{v:.4f}" for k, v in sorted(table.items())]
    (dst / "grouped_summary.csv").write_text("\n".join(lines) + "\n")
    baseline_runs = sorted((src / "baseline").glob("*"))
    if baseline_runs:
        export(dst / "training_curves_sweep_baseline", [p for p in baseline_runs if (p / "tensorboard").is_dir()])
    durations = {f"{p.parent.parent.name}/{p.parent.name}": run_seconds(p) for p in sorted(src.glob("*/*/run.log"))}
    (dst / "timing.json").write_text(json.dumps({"total_run_seconds": sum(durations.values()),
                                                 "note": "runs went 2 at a time (joblib, 1 thread each)",
                                                 "runs": durations}, indent=2))
    print(f"collected {len({(r['sweep'], r['run']) for r in all_rows})} runs into {dst}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
