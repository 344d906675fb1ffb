"""The one collector: long tables, the two-level bootstrap (patients, then seeds), paired differences, and the
command line that turns run folders into the committed tables."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation import collect as c


def table(model: str, values: np.ndarray, test: str = "standard", metric: str = "dice") -> list[dict]:
    """Long rows of one model from values[seed, patient]."""
    return [{"seed": str(s), "model": model, "test": test, "variant": "v", "structure": "mean", "metric": metric,
             "patient": f"p{p}", "value": float(values[s, p])}
            for s in range(values.shape[0]) for p in range(values.shape[1])]


def test_seed_variance_widens_the_ci():
    rng = np.random.default_rng(0)
    patients = rng.normal(0.8, 0.05, size=12)
    one = table("m", patients[None])
    three = table("m", patients[None] + np.array([[-0.04], [0.0], [0.04]]))  # same patients, seeds that differ
    (r1,), (r3,) = c.summarise(one, 2000, 0.95, 0), c.summarise(three, 2000, 0.95, 0)
    assert r1["mean"] == pytest.approx(r3["mean"]) == pytest.approx(patients.mean())
    assert r3["ci_high"] - r3["ci_low"] > 1.5 * (r1["ci_high"] - r1["ci_low"])
    assert np.isnan(r1["seed_sd"]) and r3["seed_sd"] == pytest.approx(0.04)
    assert (r1["n_patients"], r1["n_seeds"], r3["n_seeds"]) == (12, 1, 3)
    assert c.summarise(three, 2000, 0.95, 0) == c.summarise(three, 2000, 0.95, 0)  # same seed, same result


def test_known_paired_difference_is_recovered():
    rng = np.random.default_rng(1)
    base = rng.normal(0.7, 0.1, size=(1, 20))  # large patient spread, shared by both models
    a = table("a", base + 0.05 + rng.normal(0, 0.002, size=(3, 20)))  # small seed-to-seed spread
    b = table("b", base + rng.normal(0, 0.002, size=(3, 20)))
    (d,) = c.paired(a + b, [("a", "b")], 2000, 0.95, 0)
    assert d["diff_mean"] == pytest.approx(0.05, abs=0.003)
    assert 0.04 < d["ci_low"] < 0.05 < d["ci_high"] < 0.06  # paired: the patient spread cancels
    assert (d["n_patients"], d["n_seeds_a"], d["n_seeds_b"]) == (20, 3, 3)
    (s,) = [r for r in c.summarise(a + b, 2000, 0.95, 0) if r["model"] == "a"]
    assert s["ci_high"] - s["ci_low"] > 3 * (d["ci_high"] - d["ci_low"])  # unpaired CI holds the patient spread


def test_missing_values_and_patients():
    values = np.array([[0.5, np.nan, 0.7], [0.6, 0.8, np.nan]])
    (r,) = c.summarise(table("m", values), 500, 0.9, 0)
    assert r["mean"] == pytest.approx(np.mean([0.55, 0.8, 0.7])) and r["n_patients"] == 3
    assert r["ci_low"] <= r["mean"] <= r["ci_high"]
    only_b = table("b", np.array([[0.1, 0.2, 0.3]]))
    rows = c.paired(table("a", values) + only_b[:2], [("a", "b")], 500, 0.9, 0)
    assert rows[0]["n_patients"] == 2  # the common patients only


def test_check_seeds_and_errors(tmp_path):
    long = table("a", np.ones((3, 2))) + table("b", np.ones((2, 2)))
    with pytest.raises(DataError, match="different seeds"):
        c.check_seeds(long, ["a", "b"])
    with pytest.raises(DataError, match="confidence"):
        c.two_level_bootstrap([np.ones((1, 2))], [1.0], 10, 1.5, 0)
    with pytest.raises(DataError, match="does not exist"):
        c.read_long(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="no rows"):
        c.write_csv(tmp_path / "x.csv", [])


def test_long_table_from_image_rows():
    nan = float("nan")
    rows = []
    for image, dice in (("i1", (0.8, 0.6, nan)), ("i2", (0.6, 0.4, 0.9))):
        for structure, d in zip(("vertebra", "disc", "canal"), dice):
            rows.append({"seed": 2, "model": "m", "test": "standard", "variant": "t2_space", "image": image,
                         "patient": "p", "series": "p", "sequence": "s", "structure": structure, "dice": d,
                         **{k: nan for k in ("hd95_mm", "assd_mm", "vb_dice", "vb_recall", "vb_fp_far")}})
    long = {(r["structure"], r["metric"]): r for r in c.long_table(rows)}
    assert long[("vertebra", "dice")]["value"] == pytest.approx(0.7)
    assert long[("mean", "dice")]["value"] == pytest.approx(np.mean([0.7, np.mean([0.6, 0.4, 0.9])]))
    assert {r["seed"] for r in long.values()} == {"2"}
    with pytest.raises(DataError, match="no seed"):
        c.long_table([{**r, "seed": ""} for r in rows])


def test_experiment_tables_and_headline_cli(tmp_path):
    rng = np.random.default_rng(2)
    long = []
    for model, shift in (("model_a", 0.0), ("model_b", 0.1)):
        long += table(model, 0.7 + shift + rng.normal(0, 0.02, size=(3, 8)))
        long += [{**r, "test": "external_dixon", "variant": "dixon_water", "structure": "vertebral_body",
                  "metric": "vb_dice"} for r in table(model, 0.6 + rng.normal(0, 0.02, size=(3, 5)))]
        for metric, level in (("vb_dice3d", 0.9), ("false_spine_ml", 20.0 if model == "model_a" else 40.0)):
            long += [{**r, "test": "volumes", "variant": "dixon_water_3d", "structure": "vertebral_body",
                      "metric": metric} for r in table(model, level + rng.normal(0, 0.02, size=(3, 6)))]
    long = [{**r, "variant": "t2_space"} if r["test"] == "standard" else r for r in long]
    from spine_synthseg.data import families

    catalog = families.catalog_of()
    tables = c.experiment_tables(long, 500, 0.95, 0, families.headline_keys(catalog), list(families.models(catalog)))
    head = {(r["test"], r["model"]): r for r in tables["headline"]}
    assert set(head) == {(t, m) for t in ("space_test", "external_dixon", "dixon_volumes") for m in ("model_a", "model_b")}
    assert head[("space_test", "model_a")]["metric"] == "dice_mean" and head[("space_test", "model_a")]["n_seeds"] == 3
    (d,) = [r for r in tables["paired_differences"] if r["test"] == "space_test"]
    assert d["diff_mean"] == pytest.approx(-0.1, abs=0.02)
    # a volume family's headline rows: vb_dice3d and, beside it, false spine (mL, share of slices where scored)
    volume = {r["metric"]: r for r in tables["headline"] if r["test"] == "dixon_volumes" and r["model"] == "model_a"}
    assert set(volume) == {"vb_dice3d", "false_spine_ml"} and volume["false_spine_ml"]["mean"] == pytest.approx(20, abs=0.1)
    (fs,) = [r for r in tables["paired_differences"] if r["test"] == "dixon_volumes" and r["metric"] == "false_spine_ml"]
    assert fs["diff_mean"] == pytest.approx(-20, abs=0.1)
    # the tables of a protocol entry list it as family:metric; a target may read its median (MEDIAN_METRICS)
    from spine_synthseg.evaluation import report_tables as rt

    entry = {"families": ["dixon_volumes", "dixon_volumes:false_spine_ml"], "models": ["model_a", "model_b"],
             "pairs": [["model_a", "model_b"]],
             "targets": [{"label": "median", "family": "dixon_volumes", "model": "model_a", "structure": "vertebral_body",
                          "metric": "false_spine_ml", "statistic": "median", "at_most": 2, "unit": " mL"},
                         {"label": "vb3d", "family": "dixon_volumes", "model": "model_a", "at_least": 0.85},
                         {"label": "C", "family": "all", "pair": ["model_a", "model_b"], "ci_above": -0.01}]}
    head_table = rt.headline_table(tables["headline"], catalog, entry)
    assert "Dixon water volumes, every slice (6 subjects): false_spine_ml | false_spine_ml | 20.0" in head_table
    differences = rt.differences_table(tables["paired_differences"], catalog, entry).splitlines()
    assert differences[-1].startswith("| Dixon water volumes, every slice (6 subjects): false_spine_ml | -20.0 [")
    targets = rt.targets_table(tables["headline"], tables["paired_differences"], tables["all_tests"], catalog, entry)
    assert "| median | median 20.0 [20.0, 20.0] mL | no |" in targets and "| vb3d | 0.9" in targets
    assert targets.count("| C: ") == 1  # "all" repeats a target over the families, not their false-spine rows
    # the command line re-collects the same tables from a committed per_patient.csv
    c.write_csv(tmp_path / "default" / "per_patient.csv", long)
    subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "collect.py"), "headline", str(tmp_path), "--",
                    "evaluation.bootstrap_samples=500"], check=True, capture_output=True)
    rows = list(csv.DictReader(open(tmp_path / "headline.csv")))
    assert {"seed_sd", "n_seeds", "ci_low", "ci_high"} <= set(rows[0])
    assert (tmp_path / "headline.png").stat().st_size > 10_000  # the forest plot of the same rows
    written = {(r["test"], r["model"]): float(r["mean"]) for r in rows}
    assert written[("space_test", "model_b")] == pytest.approx(head[("space_test", "model_b")]["mean"], abs=1e-4)
    bad = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "collect.py"), "headline",
                          str(tmp_path / "nowhere")], capture_output=True, text=True,
                         encoding="utf-8", errors="replace")
    assert bad.returncode != 0 and "does not exist" in bad.stderr


def test_joint_threshold_pools_failed_slices_and_false_spine_slices():
    """One threshold for both validation sets: failed slices score below 0.5, lateral false-spine slices (after the
    rule) below 0.6, every good slice above 0.8; the threshold catches both kinds and flags no good slice."""
    rows = [{"seed": "0", "model": "m", "test": "validation", "variant": "v", "patient": f"p{i % 4}", "image": f"i{i}",
             "structure": "vertebra", "dice": d, "vb_dice": float("nan"), "qc_modes": q}
            for i, (d, q) in enumerate([(0.9, 0.95), (0.85, 0.9), (0.5, 0.4), (0.92, 0.97), (0.3, 0.45)])]
    slices = [{"lateral": lateral, "false_spine_mm3": fs, "qc_modes": q} for lateral, fs, q in
              [("True", 900.0, 0.55), ("True", 50.0, 0.85), ("False", 5000.0, 0.9), ("True", 400.0, 0.58),
               ("True", 0.0, ""), ("False", 0.0, 0.99)]]
    choice = c.choose_joint_threshold(rows, slices, "modes", 100.0)
    assert 0.58 < choice["threshold"] <= 0.85
    assert choice["failures_caught"] == 1.0 and choice["false_spine_recall"] == 1.0 and choice["specificity"] == 1.0
    assert (choice["n_images"], choice["n_failures"], choice["n_volume_slices"], choice["n_false_spine_slices"]) == \
        (5, 2, 5, 2)  # the slice without a score is left out; a labelled-range slice is never a false-spine slice
    with pytest.raises(DataError, match="no bad slices"):
        c.choose_joint_threshold(rows[:2], slices[1:3], "modes", 100.0)


def test_quality_rank_table_and_threshold():
    """A score that tracks Dice ranks it (rho 1) and its chosen threshold separates failed slices."""
    rows = []
    for i, d in enumerate(np.linspace(0.3, 0.95, 14)):
        base = {"seed": "0", "model": "m", "test": "validation", "variant": "v", "patient": f"p{i % 5}",
                "image": f"i{i}", "structure": "vertebra", "dice": d, "vb_dice": float("nan"), "qc_flip": d + 0.02}
        rows.append(base)
    (r,) = c.quality_rank_table(rows, "flip")
    assert r["spearman_rho"] == pytest.approx(1.0) and (r["n_images"], r["n_patients"]) == (14, 5)
    choice = c.choose_threshold(rows, "flip")
    assert choice["sensitivity"] == 1.0 and choice["specificity"] == 1.0
    (t,) = c.quality_rank_table(rows, "flip", choice["threshold"])
    assert t["failures_caught"] == 1.0 and t["flagged_that_failed"] == 1.0
    with pytest.raises(DataError, match="only failed"):
        c.choose_threshold([{**x, "dice": 0.1} for x in rows], "flip")


def test_failure_figure_picks_the_lowest_median_and_highest_difference(tmp_path):
    """scripts/window_failure_figure.py --pick: patients by the seed-0 X - Y difference, not by hand."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("wff", PROJECT_ROOT / "scripts" / "window_failure_figure.py")
    wff = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wff)
    rows = [(s, m, "external", "t2_like", "vertebral_body", "vb_dice", p, v)
            for s in (0, 1) for p, a, b in (("p1", 0.9, 0.5), ("p2", 0.5, 0.9), ("p3", 0.7, 0.7), ("p4", 0.8, 0.7),
                                            ("p5", 0.6, 0.7))
            for m, v in (("model_a", a if s == 0 else 0.0), ("model_b_aug", b))]
    rows.append((0, "model_a", "external", "t2_like", "vertebral_body", "vb_recall", "p2", 1.0))  # another metric
    path = tmp_path / "per_patient.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([c.LONG_FIELDS, *rows])
    assert wff.pick_patients(path, "external", "t2_like", "model_a", "model_b_aug") == ["p2", "p3", "p1"]
    with pytest.raises(DataError, match="no seed-0 rows"):
        wff.pick_patients(path, "external", "t1_like", "model_a", "model_b_aug")


def test_experiment_pairs_the_seeds_of_a_model_with_its_own_no_rule_rows():
    """model_a and model_a+no_rule score the same checkpoints: their paired row pairs the seeds (tight CI around
    the rule's -0.002 although the seeds lie 0.1 apart); model_a - model_b resamples each model's seeds."""
    long = []
    for model, shift in (("model_a", 0.0), ("model_a+no_rule", 0.002), ("model_b", -0.05)):
        values = 0.8 + shift + 0.1 * np.arange(3)[:, None] + 0.01 * np.arange(6)[None, :]
        long += [{**r, "test": "volumes", "variant": "dixon_water_3d", "structure": "vertebral_body",
                  "metric": "vb_dice3d"} for r in table(model, values)]
    keys = {"dixon_volumes": ("volumes", "dixon_water_3d", "vertebral_body", "vb_dice3d")}
    tables = c.experiment_tables(long, 500, 0.95, 0, keys, ["model_a", "model_b"])
    pairs = {(r["model_a"], r["model_b"]): r for r in tables["paired_differences"]}
    own = pairs[("model_a", "model_a+no_rule")]
    assert own["diff_mean"] == pytest.approx(-0.002) and own["ci_high"] - own["ci_low"] < 1e-6
    assert pairs[("model_a", "model_b")]["ci_high"] - pairs[("model_a", "model_b")]["ci_low"] > 0.05
