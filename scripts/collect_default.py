"""Collect the default experiment into results/: across-seed tables, one seed's figures, training curves.

  python scripts/collect_default.py outputs/default results/default
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tensorboard_export import export  # noqa: E402

COPY = ("summary.md", "summary.json", "metrics.csv", "dice_vs_resolution.png", "dice_per_test.png")


def run_seconds(log: Path) -> float:
    """Duration of one run: from the first to the last timestamped line of its Hydra run.log."""
    stamps = [datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f") for line in log.read_text().splitlines()
              if line.startswith("[20")]
    return (stamps[-1] - stamps[0]).total_seconds() if stamps else 0.0


def main(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    evals = sorted(src.glob("eval_seed*/summary.json"))
    if not evals:
        raise SystemExit(f"No eval_seed*/summary.json under {src}; run scripts/run_default_experiment.sh first.")
    per_seed = defaultdict(dict)
    diffs = defaultdict(dict)
    for path in evals:
        seed = path.parent.name.removeprefix("eval_seed")
        summary = json.loads(path.read_text())
        for r in summary["aggregates"]:
            per_seed[(r["model"], r["test"], r["variant"], r["structure"])][seed] = r["dice_mean"]
        for r in summary["paired_differences"]:
            diffs[(r["test"], r["variant"], r["structure"])][seed] = (r["diff_mean"], r["ci_low"], r["ci_high"])
        for name in COPY:
            out = dst / f"seed{seed}" / name
            out.parent.mkdir(exist_ok=True)
            shutil.copy(path.parent / name, out)
        if seed == "0":
            for png in path.parent.glob("overlays_*.png"):
                shutil.copy(png, dst / "seed0" / png.name)
    lines = ["model,test,variant,structure,n_seeds,dice_mean_over_seeds,dice_sd_over_seeds,per_seed"]
    for key, seeds in per_seed.items():
        v = np.array([seeds[s] for s in sorted(seeds)])
        lines.append(",".join(map(str, key)) + f",{len(v)},{np.nanmean(v):.4f},{np.nanstd(v, ddof=1) if len(v) > 1 else float('nan'):.4f},"
                     + "|".join(f"{x:.4f}" for x in v))
    (dst / "across_seeds.csv").write_text("\n".join(lines) + "\n")
    lines = ["test,variant,structure,n_seeds,diff_mean_over_seeds,seeds_with_ci_above_0,seeds_with_ci_below_0,per_seed"]
    for key, seeds in diffs.items():
        v = [seeds[s] for s in sorted(seeds)]
        lines.append(",".join(key) + f",{len(v)},{np.mean([d[0] for d in v]):.4f},{sum(d[1] > 0 for d in v)},"
                     f"{sum(d[2] < 0 for d in v)}," + "|".join(f"{d[0]:.4f}[{d[1]:.4f};{d[2]:.4f}]" for d in v))
    (dst / "paired_differences_across_seeds.csv").write_text("\n".join(lines) + "\n")
    runs = sorted(p for p in src.glob("model_*_seed*") if p.is_dir())
    train = {p.name: {k: v for k, v in json.loads((p / "metrics.json").read_text()).items() if k not in ("splits",)}
             for p in runs if (p / "metrics.json").is_file()}
    (dst / "training_runs.json").write_text(json.dumps(train, indent=2))
    export(dst / "training_curves", [p for p in runs if p.name.endswith("seed0")])
    durations = {p.parent.name: run_seconds(p) for p in sorted(src.glob("*/run.log"))}
    (dst / "timing.json").write_text(json.dumps({"total_seconds": sum(durations.values()), "runs": durations}, indent=2))
    splits = runs[0] / "splits.json"
    if splits.is_file():
        shutil.copy(splits, dst / "splits.json")
    print(f"collected {len(evals)} seeds into {dst}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
