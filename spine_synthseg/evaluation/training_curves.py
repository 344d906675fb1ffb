"""Training curves: the TensorBoard scalars of training runs as CSV (run, tag, step, value) and a plot of the
loss and the validation Dice (``scripts/collect.py curves OUT_PREFIX RUN_DIR ...``)."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def scalars(run_dir: Path) -> list[dict]:
    """Every scalar of a run's TensorBoard log: {run, tag, step, value}."""
    rows = []
    for events in sorted((run_dir / "tensorboard").glob("events.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            rows += [{"run": run_dir.name, "tag": tag, "step": e.step, "value": e.value} for e in acc.Scalars(tag)]
    return rows


def export(prefix: Path, runs: list[Path]) -> None:
    """<prefix>.csv and <prefix>.png of the runs' scalars (each run folder holds tensorboard/events.*)."""
    rows = [r for run in runs for r in scalars(run)]
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{prefix}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["run", "tag", "step", "value"])
        writer.writeheader()
        writer.writerows(rows)
    tags = ["train/loss", "val_real/dice_mean", "val_synth/dice_mean"]
    fig, axes = plt.subplots(1, len(tags), figsize=(5 * len(tags), 3.6))
    for ax, tag in zip(axes, tags):
        for i, run in enumerate(runs):
            pts = sorted((r["step"], r["value"]) for r in rows if r["run"] == run.name and r["tag"] == tag)
            if pts:
                ax.plot(*zip(*pts), label=run.name, color=f"C{i}", marker="o" if "val" in tag else None, ms=3)
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(f"{prefix}.png", dpi=100)
    plt.close(fig)

