"""The volume freeze's validation collector (evaluation/volume_freeze.py) on run folders written here, with known
answers: which lever is kept, which mode wins, and why."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation import volume_freeze as vf
from spine_synthseg.evaluation.collect import long_table, write_csv

PATIENTS = [f"p{i}" for i in range(6)]
METRIC_COLUMNS = ("dice", "vb_dice", "vb_dice3d", "false_spine_ml")


def _image_rows(model: str, seed: int, level: dict, rng) -> list[dict]:
    """metrics.csv rows: every patient on the three validation axes at the given levels (small noise)."""
    rows = []
    jitter = lambda: float(rng.normal(0, 0.004))  # noqa: E731
    for p in PATIENTS:
        base = {"seed": seed, "model": model, "patient": p, "series": p, "image": p, "sequence": ""}
        for structure in ("vertebra", "disc", "canal"):
            rows.append({**base, "test": "validation", "variant": "t2_space", "structure": structure,
                         "dice": level["in_domain"] + jitter()})
            rows.append({**base, "test": "shift_validation", "variant": "t2_tse", "structure": structure,
                         "dice": level["shift_tse"] + jitter()})
        rows.append({**base, "test": "shift_validation", "variant": "dixon_water", "structure": "vertebral_body",
                     "vb_dice": level["shift_dixon"] + jitter()})
        for suffix, fs in (("", level["fs_rule"]), ("+no_rule", level["fs"])):
            rows.append({**base, "model": model + suffix, "test": "shift_validation_volumes",
                         "variant": "dixon_water_3d", "structure": "vertebral_body",
                         "vb_dice3d": level["vb3d"] - (0.002 if suffix == "" else 0) + jitter(),
                         "false_spine_ml": fs + 10 * jitter()})
    return rows


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["seed", "model", "test", "variant", "image", "patient", "series", "sequence", "structure",
               *METRIC_COLUMNS]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(rows)


LEVEL = {"in_domain": 0.85, "shift_tse": 0.6, "shift_dixon": 0.7, "vb3d": 0.9, "fs_rule": 2.0, "fs": 10.0}


@pytest.fixture
def tree(tmp_path):
    rng = np.random.default_rng(0)
    runs, results = tmp_path / "runs", tmp_path / "results"
    modes = {}
    for model in vf.MODELS:
        for seed in range(3):
            run = runs / f"{model}_seed{seed}"
            own = dict(LEVEL, in_domain=0.80 if model == "model_c" else 0.85)
            _write(run / "evaluation" / "metrics.csv", _image_rows(model, seed, own, rng))
            other = {k: v - 0.03 for k, v in own.items()} if model != "model_b" else \
                {k: v + (0.03 if k in ("in_domain", "shift_tse", "shift_dixon", "vb3d") else 0) for k, v in own.items()}
            modes.setdefault(seed, []).extend(_image_rows(model, seed, other, rng))
            (run / "metrics.json").write_text(json.dumps({"seed": seed}))
            (run / "config_resolved.yaml").write_text("inference_mode: sliding_window\n")
    for seed, rows in modes.items():
        _write(runs / f"eval_val_full_pass_seed{seed}" / "metrics.csv", rows)
    entry3 = {"model_a": "model_a_combined", "model_b": "model_b", "model_b_aug": "model_b_aug",
              "model_c": "model_c_combined"}
    slices, volumes = [], []
    for model, old in entry3.items():
        for seed in range(3):
            slices += long_table([r for r in _image_rows(old, seed, dict(LEVEL, fs=40.0), rng)
                                  if r["test"] != "shift_validation_volumes"])
        volumes += [r for r in _image_rows(model, 0, dict(LEVEL, fs=40.0), rng) if r["model"].endswith("+no_rule")]
    write_csv(results / "archive" / "freeze" / "validation_per_patient.csv",
              [{**r, "model": f"{r['model']}@sliding_window"} for r in slices])
    write_csv(results / "archive" / "volumes" / "shift_val_per_patient.csv",
              [{"run": "sliding_window", **r, "model": r["model"].removesuffix("+no_rule")}
               for r in long_table(volumes)])
    return runs, results


def test_decisions_follow_the_rules(tree):
    runs, results = tree
    decision = vf.collect(results, runs, "sliding_window", 300, 0.95, 0, -0.01)
    assert decision["model_a"]["negatives"]["keep"] is True
    assert decision["model_a"]["negatives"]["false_spine_ml"] == pytest.approx(-30, abs=1)
    assert decision["model_c"]["negatives"]["keep"] is False  # 0.80 against entry 3's 0.85
    assert "in_domain CI low" in decision["model_c"]["negatives"]["reasons"][0]
    assert all(decision[m]["volume_rule"]["keep"] for m in vf.MODELS)  # 10 -> 2 mL at -0.002 vb_dice3d
    assert decision["model_b"]["mode"]["mode"] == "full_pass"  # raises every axis there
    assert {decision[m]["mode"]["mode"] for m in ("model_a", "model_b_aug", "model_c")} == {"sliding_window"}
    out = results / "volume_freeze"
    assert {p.name for p in out.iterdir()} == {"validation_per_patient.csv", "validation_axes.csv",
                                               "validation_paired.csv", "decision.json", "validation_front.png"}
    axes = list(csv.DictReader(open(out / "validation_axes.csv")))
    a = {r["axis"]: r for r in axes if r["label"] == "model_a@sliding_window"}
    assert float(a["in_domain"]["mean"]) == pytest.approx(0.85, abs=0.01) and a["in_domain"]["n_seeds"] == "3"
    assert {r["comparison"] for r in csv.DictReader(open(out / "validation_paired.csv"))} == \
        {"mode", "volume_rule", "vs_model_b_aug", "negatives"}


def test_a_run_scored_nowhere_is_an_error(tree):
    runs, results = tree
    (runs / "eval_val_large_window_seed0").mkdir()
    with pytest.raises(DataError, match="eval_val_large_window_seed0 holds no metrics.csv"):
        vf.collect(results, runs, "sliding_window", 50, 0.95, 0, -0.01)
    with pytest.raises(DataError, match="no trained runs"):
        vf.collect(results, results, "sliding_window", 50, 0.95, 0, -0.01)


def test_labels_split_back():
    assert vf.split(vf.name("model_b_aug", "full_pass", False)) == ("model_b_aug", False, "full_pass")
    assert vf.split("entry3_model_a@sliding_window") == ("entry3_model_a", True, "sliding_window")


def test_a_comparison_within_the_same_runs_pairs_the_seeds():
    """The rule on and off score the same checkpoints: seeds 0.1 apart in level, the rule 0.002 below everywhere;
    seeds paired, the CI is tight around -0.002 (resampling each side's seeds apart would span about +-0.1)."""
    long = [{"seed": str(s), "model": m, "test": "t", "variant": "v", "structure": "x", "metric": "vb_dice3d",
             "patient": p, "value": 0.8 + 0.1 * s + 0.01 * i - (0.002 if m == "a" else 0)}
            for s in range(3) for i, p in enumerate(PATIENTS) for m in ("a", "b")]
    (row,) = vf.paired(long, [("a", "b")], 500, 0.95, 0, same_runs=True)
    assert row["diff_mean"] == pytest.approx(-0.002) and row["ci_high"] - row["ci_low"] < 1e-6
    (apart,) = vf.paired(long, [("a", "b")], 500, 0.95, 0)
    assert apart["ci_high"] - apart["ci_low"] > 0.05
