"""Collect the default experiment (whole-slice protocol) into results/: the headline table over seeds with CIs
over patients, paired differences, home-field tables, per-seed summaries and figures, training runs and timing.

  python scripts/collect_default.py outputs/default results

Per model, test and metric: each seed's per-patient values (slice -> series -> patient, as in
spine_synthseg.evaluation.aggregation), averaged over seeds per patient; `mean` is the mean over patients of
those seed-averaged values (= the mean over seeds of each seed's patient mean), and the 95 % CI is a percentile
bootstrap over patients of the same values. Paired differences likewise on per-patient differences.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections import defaultdict
from datetime import datetime
from itertools import combinations
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from spine_synthseg.evaluation.aggregation import METRICS, patient_values, with_sequence_groups  # noqa: E402
from spine_synthseg.evaluation.metrics import bootstrap_ci  # noqa: E402
from tensorboard_export import export  # noqa: E402

MODELS = ("model_a", "model_b", "model_b_aug", "model_c")
# headline name -> (test, variant, structure, metric, metric name in the CSV)
HEADLINE = {"space_test": ("standard", "t2_space", "mean", "dice", "dice_mean"),
            "tse": ("protocol_shift", "t2_tse", "mean", "dice", "dice_mean"),
            "tse_mid": ("protocol_shift", "t2_tse_mid", "mean", "dice", "dice_mean"),
            "external_t1_like": ("external", "t1_like", "vertebral_body", "vb_dice", "vb_dice"),
            "external_t2_like": ("external", "t2_like", "vertebral_body", "vb_dice", "vb_dice")}
COPY = ("summary.md", "summary.json", "dice_vs_resolution.png", "dice_per_test.png")


def run_config(src: Path, model: str) -> str:
    """What trained `model`, from its seed-0 run's Hydra record: experiment, data, trainer, scheduler, steps,
    precision and any other override (e.g. 'experiment=model_a (data=synth, trainer=long: 2000 steps bf16-mixed,
    scheduler=warmup_stable_decay)')."""
    hydra_dir = src / f"{model}_seed0" / ".hydra"
    if not hydra_dir.is_dir():
        return f"experiment={model}"
    choices = yaml.safe_load((hydra_dir / "hydra.yaml").read_text())["hydra"]["runtime"]["choices"]
    resolved = hydra_dir.parent / "config_resolved.yaml"  # interpolations resolved (older runs: Hydra's own)
    cfg = yaml.safe_load((resolved if resolved.is_file() else hydra_dir / "config.yaml").read_text())
    skip = ("hydra.", "seed=", "experiment=", "evaluate_after_fit", "trainer.enable_progress_bar")
    extra = [o for o in yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) if not o.startswith(skip)]
    precision = cfg["trainer"].get("precision", "32-true")
    if choices["data"] in ("synth", "mixed"):  # how synthetic images are normalised (null: min-max)
        percentiles = cfg["synth"].get("output_percentiles")
        extra.insert(0, f"synth.output_percentiles={'null' if percentiles is None else percentiles}")
    return (f"experiment={model} (data={choices['data']}, trainer={choices['trainer']}: {cfg['trainer']['max_steps']} "
            f"steps {precision}, scheduler={choices['scheduler']}{''.join(', ' + o for o in extra)})")


def read_rows(path: Path) -> list[dict]:
    rows = list(csv.DictReader(open(path)))
    for r in rows:
        for m in METRICS:
            r[m] = float(r[m]) if r.get(m) not in (None, "") else float("nan")
    return rows


def run_seconds(log: Path) -> float:
    """Duration of one run: from the first to the last timestamped line of its Hydra run.log."""
    stamps = [datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f") for line in log.read_text().splitlines()
              if line.startswith("[20")]
    return (stamps[-1] - stamps[0]).total_seconds() if stamps else 0.0


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def fmt(x: float) -> str:
    return "nan" if x != x else f"{x:.4f}"


def main(src: Path, dst: Path) -> None:
    evals = sorted(src.glob("eval_seed*/metrics.csv"))
    home = sorted(src.glob("eval_home_seed*/metrics.csv"))  # the home-field tests (seed 0)
    if not evals:
        raise SystemExit(f"No eval_seed*/metrics.csv under {src}; run scripts/run_default_experiment.sh first.")
    default = dst / "default"
    default.mkdir(parents=True, exist_ok=True)
    # (model, test, variant, structure, metric) -> {patient: [value per seed]}
    per_patient: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    long_rows = []
    for path in evals + home:
        seed = path.parent.name.removeprefix("eval_home_seed").removeprefix("eval_seed")
        rows = with_sequence_groups(read_rows(path))
        for metric in METRICS:
            for key, patients in patient_values(rows, metric).items():
                for p, v in patients.items():
                    per_patient[key + (metric,)][p].append(v)
                    long_rows.append({"seed": seed, "model": key[0], "test": key[1], "variant": key[2],
                                      "structure": key[3], "metric": metric, "patient": p, "value": fmt(v)})
        out = default / f"seed{seed}"
        out.mkdir(exist_ok=True)
        prefix = "home_field_" if path.parent.name.startswith("eval_home") else ""
        for name in COPY:
            if (path.parent / name).is_file():  # only the home-field run has a resolution plot
                shutil.copy(path.parent / name, out / f"{prefix}{name}")
        if seed == "0":
            for png in path.parent.glob("overlays_*.png"):
                shutil.copy(png, out / png.name)
    write_csv(default / "per_patient.csv", long_rows)
    n_seeds = len(evals)

    def averaged(key: tuple) -> dict[str, float]:
        """Per patient, the mean over the seeds that evaluated this key (every seed for the real tests)."""
        return {p: float(np.mean(v)) for p, v in per_patient.get(key, {}).items()}

    def seeds_of(key: tuple) -> int:
        return max((len(v) for v in per_patient.get(key, {}).values()), default=0)

    summary = []
    for key in sorted(per_patient, key=lambda k: (MODELS.index(k[0]) if k[0] in MODELS else 9,) + k[1:]):
        values = averaged(key)
        m, lo, hi = bootstrap_ci(np.array(list(values.values())), 2000, 0.95, 0)
        summary.append({"model": key[0], "test": key[1], "variant": key[2], "structure": key[3], "metric": key[4],
                        "mean": fmt(m), "ci_low": fmt(lo), "ci_high": fmt(hi), "n_patients": len(values),
                        "n_seeds": seeds_of(key)})
    write_csv(default / "all_tests.csv", summary)
    headline, paired = [], []
    configs = {model: run_config(src, model) for model in MODELS}
    for name, (test, variant, structure, metric, label) in HEADLINE.items():
        for model in MODELS:
            values = averaged((model, test, variant, structure, metric))
            if not values:
                continue
            m, lo, hi = bootstrap_ci(np.array(list(values.values())), 2000, 0.95, 0)
            headline.append({"test": name, "model": model, "metric": label, "mean": fmt(m), "ci_low": fmt(lo),
                             "ci_high": fmt(hi), "n_seeds": seeds_of((model, test, variant, structure, metric)),
                             "n_patients": len(values), "config": configs[model]})
        for a, b in combinations(MODELS, 2):
            va, vb = averaged((a, test, variant, structure, metric)), averaged((b, test, variant, structure, metric))
            common = sorted(set(va) & set(vb))
            if not common:
                continue
            m, lo, hi = bootstrap_ci(np.array([va[p] - vb[p] for p in common]), 2000, 0.95, 0)
            paired.append({"test": name, "model_a": a, "model_b": b, "metric": label, "diff_mean": fmt(m),
                           "ci_low": fmt(lo), "ci_high": fmt(hi), "n_patients": len(common),
                           "n_seeds": seeds_of((a, test, variant, structure, metric))})
    write_csv(dst / "headline.csv", headline)
    write_csv(dst / "paired_differences.csv", paired)
    runs = sorted(p for p in src.glob("model_*_seed*") if (p / "metrics.json").is_file())
    train = {p.name: {k: v for k, v in json.loads((p / "metrics.json").read_text()).items() if k != "splits"} for p in runs}
    if runs:  # an evaluation-only collection (e.g. the sliding-window re-evaluation) has no training runs
        (default / "training_runs.json").write_text(json.dumps(train, indent=2))
        export(default / "training_curves", [p for p in runs if p.name.endswith("seed0")])
    durations = {p.parent.name: run_seconds(p) for p in sorted(src.glob("*/run.log"))}
    (default / "timing.json").write_text(json.dumps({"total_seconds": sum(durations.values()), "runs": durations}, indent=2))
    if runs:
        shutil.copy(runs[0] / "splits.json", default / "splits.json")
    crop = src / "eval_crop_seed0" / "summary.json"
    whole = src / "eval_seed0" / "summary.json"
    if crop.is_file() and whole.is_file():
        rows = []
        for protocol, path in (("label_crop_240x192mm", crop), ("whole_slice", whole)):
            for r in json.loads(path.read_text())["aggregates"]:
                if r["test"] in ("standard", "protocol_shift") and r["metric"] == "dice":
                    rows.append({"protocol": protocol, "seed": 0, **{k: r[k] for k in ("model", "test", "variant", "structure")},
                                 "mean": fmt(r["mean"]), "ci_low": fmt(r["ci_low"]), "ci_high": fmt(r["ci_high"]),
                                 "n_patients": r["n_patients"]})
        write_csv(default / "protocol_comparison_seed0.csv", rows)
    print(f"collected {n_seeds} seeds into {dst}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
