"""The two validation axes of the realism screen (evaluation/axes.py) on hand-made long tables."""

import numpy as np
import pytest

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.axes import AXES, pareto_front, run_values, summarise_axes


def long_rows(variant, seed, values):
    """values: {axis: [per-patient values]} -> long-table rows of that variant and seed."""
    rows = []
    for axis, vals in values.items():
        test, var, structure, metric = AXES[axis]
        rows += [{"seed": str(seed), "model": variant, "test": test, "variant": var, "structure": structure,
                  "metric": metric, "patient": f"{axis}_p{i}", "value": v} for i, v in enumerate(vals)]
    return rows


def test_shift_is_the_mean_of_its_two_parts():
    rows = long_rows("a", 0, {"in_domain": [0.8, 0.6], "shift_dixon": [0.9, 0.9, 0.6], "shift_tse": [0.2, 0.4]})
    v = run_values(rows)
    assert v["in_domain"] == pytest.approx(0.7)
    assert v["shift_dixon"] == pytest.approx(0.8) and v["shift_tse"] == pytest.approx(0.3)
    assert v["shift"] == pytest.approx(0.55)  # not the mean over the five patients (0.6)


def test_differences_are_paired_and_the_front_is_non_dominated():
    rng = np.random.default_rng(0)
    base = {"in_domain": rng.uniform(0.6, 0.9, 6), "shift_dixon": rng.uniform(0.7, 0.9, 12),
            "shift_tse": rng.uniform(0.2, 0.6, 13)}
    rows = []
    for seed in (0, 1):
        rows += long_rows("baseline", seed, base)
        rows += long_rows("better_shift", seed, {"in_domain": base["in_domain"] - 0.01,
                                                 "shift_dixon": base["shift_dixon"] + 0.04, "shift_tse": base["shift_tse"] + 0.06})
        rows += long_rows("worse", seed, {k: v - 0.05 for k, v in base.items()})
    out = {r["variant"]: r for r in summarise_axes(rows, "baseline", 500, 0.95, 0)}
    b = out["better_shift"]
    assert b["shift_diff"] == pytest.approx(0.05) and b["shift_diff_ci_low"] == pytest.approx(0.05)  # paired: no spread
    assert b["in_domain_diff"] == pytest.approx(-0.01)
    assert out["baseline"]["on_front"] and b["on_front"] and not out["worse"]["on_front"]
    assert out["baseline"]["n_seeds"] == 2 and np.isnan(out["baseline"]["shift_diff"])
    assert out["baseline"]["shift_ci_low"] < out["baseline"]["shift"] < out["baseline"]["shift_ci_high"]
    with pytest.raises(DataError, match="baseline"):
        summarise_axes(rows, "missing", 10, 0.95, 0)


def test_a_missing_axis_names_the_fix():
    rows = long_rows("a", 0, {"in_domain": [0.8], "shift_dixon": [0.9]})
    with pytest.raises(DataError, match="shift_validation"):
        run_values(rows)


def test_pareto_front():
    assert pareto_front({"a": (1, 1), "b": (2, 0), "c": (0.5, 0.5), "d": (1, 1)}) == {"a", "b", "d"}


def test_optuna_search_space_gives_valid_overrides():
    """Every trial of the study (scripts/optuna_realism.py) is a set of Hydra overrides that builds a generator."""
    import importlib.util

    import optuna
    import yaml
    from hydra.utils import instantiate

    from spine_synthseg.config import PROJECT_ROOT, compose_config

    spec = importlib.util.spec_from_file_location("optuna_realism", PROJECT_ROOT / "scripts" / "optuna_realism.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    space = yaml.safe_load(module.SPACE.read_text())
    params = {k: (v["choices"][-1] if "choices" in v else v["float"][1]) for k, v in space.items()}
    overrides = module.suggest(optuna.trial.FixedTrial(params), space)
    assert "background=tissue" in overrides and "synth.contrast.std_range=[0.0,0.15]" in overrides
    generator = instantiate(compose_config(["experiment=realism_optuna/trial", *overrides]).synth)
    assert generator.background.mode == "tissue" and generator.distractors.prob == 0.8
    assert generator.contrast.std_range == (0.0, 0.15)


def _write_eval(folder, model, seed, shift):
    """A fake eval_val_<mode>/metrics.csv: 3 validation patients, 2 Dixon subjects, 2 TSE series; `shift` added
    to every Dice of the model (and of its +column variant, which gains 0.01 more)."""
    import csv
    folder.mkdir(parents=True)
    fields = ["seed", "model", "test", "variant", "image", "patient", "series", "sequence", "appearance",
              "acq_spacing_mm", "structure", "dice", "hd95_mm", "assd_mm", "vb_dice", "vb_recall", "vb_fp_far"]
    rows = []
    for name, extra in ((model, 0.0), (model + "+column", 0.01)):
        for p, base in (("p1", 0.7), ("p2", 0.8), ("p3", 0.75)):
            for s in ("vertebra", "disc", "canal"):
                rows.append([seed, name, "validation", "t2_space", f"{p}_1", p, p, "t2_SPACE", "", "", s,
                             base + shift + extra, 4.0, 1.0, "nan", "nan", "nan"])
        for p in ("VB3_01", "VB3_02"):
            rows.append([seed, name, "shift_validation", "dixon_water", f"{p}_s1", p, p, "water", "", "",
                         "vertebral_body", "nan", "nan", "nan", 0.9 + shift + extra, 0.9, 0.0])
        for p in ("1007", "1011"):
            for s in ("vertebra", "disc", "canal"):
                rows.append([seed, name, "shift_validation", "t2_tse", f"{p}_5", p, p, "t2_TSE", "", "", s,
                             0.3 + shift + extra, "nan", "nan", "nan", "nan", "nan"])
    with open(folder / "metrics.csv", "w", newline="") as f:
        csv.writer(f).writerows([fields, *rows])


def test_freeze_collector_pairs_modes_models_and_the_column_band(tmp_path):
    """scripts/collect.py freeze: per model each mode against its sliding window, per mode each model against
    model_b_aug (and model_a_combined against model_a), paired: the constructed differences come back exactly."""
    import csv
    import json
    import subprocess
    import sys
    from pathlib import Path

    runs = tmp_path / "runs"
    offsets = {"model_a": 0.0, "model_a_combined": 0.02, "model_b_aug": 0.05}
    for model, off in offsets.items():
        for seed in (0, 1):
            run = runs / f"{model}_seed{seed}"
            for mode, extra in (("sliding_window", 0.0), ("full_pass", 0.03)):
                _write_eval(run / f"eval_val_{mode}", model, seed, off + extra)
            (run / "metrics.json").write_text(json.dumps({"seed": seed}))
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, str(root / "scripts" / "collect.py"), "freeze", str(out), str(runs), "--",
                           "evaluation.bootstrap_samples=50"], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    modes = {(r["model"], r["mode"], r["postprocess"]): r for r in csv.DictReader(open(out / "validation_modes.csv"))}
    assert float(modes[("model_a", "full_pass", "none")]["in_domain_diff"]) == pytest.approx(0.03)
    assert float(modes[("model_a", "sliding_window", "+column")]["shift_diff"]) == pytest.approx(0.01)
    models = [r for r in csv.DictReader(open(out / "validation_models.csv"))]
    pick = {(r["reference"], r["model"], r["mode"], r["postprocess"]): r for r in models}
    assert float(pick[("model_b_aug", "model_a", "full_pass", "none")]["in_domain_diff"]) == pytest.approx(-0.05)
    assert float(pick[("model_a", "model_a_combined", "sliding_window", "none")]["shift_diff"]) == pytest.approx(0.02)
    assert pick[("model_a", "model_a_combined", "sliding_window", "none")]["n_seeds"] == "2"
    hd = list(csv.DictReader(open(out / "validation_hd95.csv")))
    assert hd and {float(r["mean"]) for r in hd} == {4.0}
    assert (out / "validation_front.png").is_file()
    (runs / "model_b_aug_seed1" / "eval_val_full_pass" / "metrics.csv").unlink()
    (runs / "model_b_aug_seed1" / "eval_val_sliding_window" / "metrics.csv").unlink()
    failed = subprocess.run([sys.executable, str(root / "scripts" / "collect.py"), "freeze", str(out), str(runs)],
                            capture_output=True, text=True, cwd=root)
    assert failed.returncode != 0 and "score each on both validation axes" in failed.stderr


def test_evaluation_collector_pools_the_seeds_of_a_label(tmp_path):
    """scripts/collect.py evaluation LABEL=DIR1,DIR2: one label (an inference mode) pools its seeds' folders."""
    import csv
    import subprocess
    import sys
    from pathlib import Path

    dirs = {}
    for mode, extra in (("sliding_window", 0.0), ("full_pass", 0.02)):
        dirs[mode] = [tmp_path / f"{mode}_seed{s}" for s in (0, 1)]
        for s, d in enumerate(dirs[mode]):
            _write_eval(d, "model_a", s, extra)
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "modes"
    done = subprocess.run([sys.executable, str(root / "scripts" / "collect.py"), "evaluation", str(out),
                           *[f"{m}={','.join(map(str, d))}" for m, d in dirs.items()], "--",
                           "evaluation.bootstrap_samples=50"], capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [r for r in csv.DictReader(open(tmp_path / "modes.csv"))
            if r["model"] == "model_a" and r["test"] == "validation" and r["structure"] == "mean"]
    assert {r["run"]: r["seeds"] for r in rows} == {"sliding_window": "2 seeds (0 1)", "full_pass": "2 seeds (0 1)"}
    means = {r["run"]: float(r["mean"]) for r in rows}
    assert means["full_pass"] - means["sliding_window"] == pytest.approx(0.02)
