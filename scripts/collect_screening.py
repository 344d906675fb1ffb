"""Reality-gap screening on the REAL VALIDATION patients (never a test set): one row per run, paired differences
against a baseline run with a bootstrap CI over the validation patients, and a plot.

  python scripts/collect_screening.py RUNS_DIR OUT_DIR [--baseline NAME] [--name screening] [--group-seeds]

RUNS_DIR/<name>/ are training runs (metrics.json, .hydra/overrides.yaml, checkpoints/best.ckpt: for Model A
chosen on synthetic validation, so the real validation patients only score the configuration). Each checkpoint
segments the validation patients' whole slices with the project's inference (models/inference.py, default
mode); mean Dice over vertebra, disc and canal per slice, averaged per patient. Writes OUT_DIR/<name>.csv,
OUT_DIR/<name>_per_patient.csv and OUT_DIR/<name>.png. --group-seeds: runs named <config>_seed<N> form one row
per config, their per-patient Dice averaged over the seeds before the paired CI (the 3-seed confirmation);
--baseline then names a config.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from spine_synthseg.config import compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_native, load_splits  # noqa: E402
from spine_synthseg.evaluation.metrics import bootstrap_ci, dice_per_structure  # noqa: E402
from spine_synthseg.models.checkpoint import load_checkpoint  # noqa: E402
from spine_synthseg.models.inference import segment_slices  # noqa: E402

STRUCTURES = ("vertebra", "disc", "canal")


def per_patient_dice(ckpt: Path, val) -> dict[str, np.ndarray]:
    """{patient: (3,) mean Dice per structure over its slices} on the validation slices."""
    model = load_checkpoint(ckpt)
    preds = segment_slices(model, [r.image for r in val], [r.spacing_mm for r in val])
    out: dict[str, list] = {}
    for r, p in zip(val, preds):
        out.setdefault(r.patient_id, []).append(dice_per_structure(p[None], r.structures[None],
                                                                   np.asarray(r.annotated)[None])[0])
    return {k: np.nanmean(np.stack(v), 0) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--baseline", default="baseline")
    parser.add_argument("--name", default="screening")
    parser.add_argument("--group-seeds", action="store_true")
    args = parser.parse_args()
    cfg = compose_config([])
    _, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    val = load_native(to_dict(cfg.source), splits["val"])
    dangling = [f"{d} -> {d.resolve()}" for d in args.runs.iterdir() if d.is_symlink() and not d.exists()]
    if dangling:
        sys.exit(f"error: links to missing runs under {args.runs}: {dangling}; train those runs or remove the links.")
    runs = sorted(d for d in args.runs.iterdir() if d.is_dir())
    unfinished = [d.name for d in runs if not (d / "metrics.json").is_file()]
    group = (lambda name: re.sub(r"_seed\d+$", "", name)) if args.group_seeds else (lambda name: name)
    if unfinished or args.baseline not in {group(d.name) for d in runs}:
        sys.exit(f"error: under {args.runs}, runs without metrics.json: {unfinished}; baseline {args.baseline!r} "
                 f"{'missing' if unfinished == [] else 'given'}; finish the runs with the script that makes them "
                 f"(scripts/run_reality_gap.sh, scripts/confirm_candidate.sh) or remove them.")
    scores, rows = {}, []
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        overrides = yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
        scores[run.name] = per_patient_dice(run / metrics["checkpoint"], val)
        rows.append({"name": run.name, "overrides": " ".join(o for o in overrides if not o.startswith(
                         ("hydra.", "evaluate_after_fit", "trainer.enable_progress_bar"))),
                     "seed": metrics["seed"], "max_steps": metrics["max_steps"], "monitor": metrics["monitor"],
                     "train_seconds": metrics["train_seconds"], "train_images_per_s": round(metrics["train_images_per_s"], 2),
                     "val_synth_dice_mean": metrics["validation"].get("val_synth/dice_mean")})
        print(run.name, {k: np.round(v, 3).tolist() for k, v in scores[run.name].items()})
    if args.group_seeds:  # one row per config: per-patient Dice averaged over its seeds
        grouped: dict[str, list] = {}
        for row in rows:
            grouped.setdefault(group(row["name"]), []).append(row)
        seed_sets = {g: sorted(r["seed"] for r in rs) for g, rs in grouped.items()}
        if len({tuple(v) for v in seed_sets.values()}) > 1:
            sys.exit(f"error: the configurations under {args.runs} do not have the same seeds: {seed_sets}; "
                     f"finish the missing runs.")
        scores = {g: {p: np.mean([scores[r["name"]][p] for r in rs], 0) for p in scores[rs[0]["name"]]}
                  for g, rs in grouped.items()}
        rows = [{**rs[0], "name": g, "overrides": " ".join(o for o in rs[0]["overrides"].split() if not o.startswith("seed=")),
                 "seed": " ".join(str(r["seed"]) for r in rs),
                 "train_seconds": round(float(np.mean([r["train_seconds"] for r in rs])), 1),
                 "train_images_per_s": round(float(np.mean([r["train_images_per_s"] for r in rs])), 2),
                 "val_synth_dice_mean": None if rs[0]["val_synth_dice_mean"] is None else
                 float(np.mean([r["val_synth_dice_mean"] for r in rs]))} for g, rs in grouped.items()]
    base = scores[args.baseline]
    patients = sorted(base)
    for row in rows:
        s = scores[row["name"]]
        per = np.stack([s[p] for p in patients])  # (P, 3)
        for i, name in enumerate(STRUCTURES):
            row[f"val_dice_{name}"] = round(float(per[:, i].mean()), 4)
        mean = per.mean(1)
        diff = mean - np.stack([base[p] for p in patients]).mean(1)
        d, lo, hi = bootstrap_ci(diff)
        row.update({"val_dice_mean": round(float(mean.mean()), 4), "diff_vs_baseline": round(float(d), 4),
                    "diff_ci_low": round(float(lo), 4), "diff_ci_high": round(float(hi), 4), "n_patients": len(patients)})
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / f"{args.name}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(args.out / f"{args.name}_per_patient.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "patient", *STRUCTURES])
        for name, s in scores.items():
            for p in patients:
                writer.writerow([name, p, *np.round(s[p], 4)])
    order = sorted(rows, key=lambda r: r["val_dice_mean"])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(order) + 1.5))
    y = np.arange(len(order))
    ax.barh(y, [r["val_dice_mean"] for r in order], color="tab:blue")
    ax.errorbar([r["val_dice_mean"] for r in order], y, fmt="none", ecolor="k", capsize=3,
                xerr=[[r["diff_vs_baseline"] - r["diff_ci_low"] for r in order],
                      [r["diff_ci_high"] - r["diff_vs_baseline"] for r in order]])
    ax.set_yticks(y, [f"{r['name']} ({r['diff_vs_baseline']:+.3f})" for r in order])
    ax.set_xlabel(f"mean Dice, {len(patients)} real validation patients\n(bars: 95% CI of the paired difference)")
    ax.set_xlim(min(r["val_dice_mean"] for r in order) - 0.1, 1.0)
    fig.tight_layout()
    fig.savefig(args.out / f"{args.name}.png", dpi=100)
    print(f"written {args.out / (args.name + '.csv')}")


if __name__ == "__main__":
    main()
