"""The collector's subcommands (spine_synthseg/apps/collect.py, `python scripts/collect.py ...`) on runs trained
on the real data at the smoke budget (the session's smoke checkpoints) and evaluated here: each writes its tables,
and the numbers in them are those of the evaluations they read."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from spine_synthseg.apps.collect import main as collect
from spine_synthseg.errors import ConfigError, DataError
from spine_synthseg.evaluation import collect as c
from spine_synthseg.evaluation.evaluate import evaluate_checkpoints
from tests.helpers import compose_cfg

BOOT = ["--", "evaluation.bootstrap_samples=50"]


def rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, smoke_runs):
    """runs/: model_a_seed0, model_b_seed0 (the smoke runs) and eval_seed0 (both on the validation axes and the
    T2 SPACE test, with the flip quality score); eval_model_a/, eval_model_b/: its metrics.csv rows of one model
    each (one evaluation for all three: the suite's time)."""
    root = tmp_path_factory.mktemp("collectors")
    runs = root / "runs"
    runs.mkdir()
    for name in ("model_a", "model_b"):
        (runs / f"{name}_seed0").symlink_to(smoke_runs[name]["dir"])
    cfg = compose_cfg(root / "cfg", ["evaluation.inference_mode=full_pass", "evaluation.max_patients=1",
                                     "evaluation.tests=[validation,shift_validation,standard]",
                                     "evaluation.surface_distance_tests=[]", "evaluation.quality_scores=[flip]",
                                     "evaluation.n_overlays=0"])
    checkpoints = {name: smoke_runs[name]["ckpt"] for name in ("model_a", "model_b")}
    evaluate_checkpoints(cfg, checkpoints, runs / "eval_seed0")
    table = rows(runs / "eval_seed0" / "metrics.csv")
    for name in checkpoints:
        (root / f"eval_{name}").mkdir()
        with open(root / f"eval_{name}" / "metrics.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(r for r in table if r["model"] == name)
    return root


def test_experiment_headline_and_compare(evaluated, tmp_path):
    """experiment: headline, paired differences, the long table and the training facts; headline re-collects the
    same from the long table; compare of a result with itself differs by nothing."""
    results = tmp_path / "results"
    collect(["experiment", str(evaluated / "runs"), str(results), *BOOT])
    head = {(r["test"], r["model"]): r for r in rows(results / "headline.csv")}
    assert {("space_test", "model_a"), ("space_test", "model_b")} <= set(head)
    long = c.read_long(results / "default" / "per_patient.csv")
    mine = [r["value"] for r in long if (r["model"], r["test"], r["structure"], r["metric"]) ==
            ("model_a", "standard", "mean", "dice")]
    assert float(head[("space_test", "model_a")]["mean"]) == pytest.approx(sum(mine) / len(mine), abs=1e-4)
    assert head[("space_test", "model_a")]["n_seeds"] == "1"
    assert set(json.loads((results / "default" / "training_runs.json").read_text())) == {"model_a_seed0", "model_b_seed0"}
    assert any(r["tag"] == "train/loss" for r in rows(results / "default" / "training_curves.csv"))
    first = (results / "headline.csv").read_text()
    collect(["headline", str(results), *BOOT])
    assert (results / "headline.csv").read_text() == first
    collect(["compare", str(results), str(results), str(tmp_path / "same.csv"), *BOOT])
    assert all(float(r["diff_mean"]) == 0 for r in rows(tmp_path / "same.csv"))


def test_runs_pair_each_run_with_the_baseline(evaluated, tmp_path):
    out = tmp_path / "table"
    collect(["runs", str(out), f"a={evaluated / 'eval_model_a'}:0", f"b={evaluated / 'eval_model_b'}:0",
             "--baseline", "b", *BOOT])
    assert {r["model"] for r in rows(f"{out}.csv")} == {"a", "b"}
    paired = rows(f"{out}_paired.csv")
    assert paired and {(r["model_a"], r["model_b"]) for r in paired} == {("a", "b")}
    with pytest.raises(SystemExit, match="--baseline 'c' is none of the runs"):
        collect(["runs", str(out), f"a={evaluated / 'eval_model_a'}:0", "--baseline", "c", *BOOT])


def test_axes_give_each_model_both_validation_axes(evaluated, tmp_path):
    out = tmp_path / "axes.csv"
    collect(["axes", str(out), str(evaluated / "runs" / "eval_seed0"), *BOOT])
    table = rows(out)
    assert {r["model"] for r in table} == {"model_a", "model_b"}
    for r in table:
        assert float(r["shift"]) == pytest.approx((float(r["shift_dixon"]) + float(r["shift_tse"])) / 2, abs=1e-4)


def test_realism_screens_variants_against_the_baseline(evaluated, tmp_path, smoke_runs):
    """realism: <variant>/seed<k>/ with metrics.json and eval_val/ -> one row per run, the summary with each
    variant's paired difference to the baseline, the front figure."""
    screen = tmp_path / "screen"
    for variant, name in (("base", "model_a"), ("other", "model_b")):
        run = screen / variant / "seed0"
        run.mkdir(parents=True)
        shutil.copy(smoke_runs[name]["dir"] / "metrics.json", run / "metrics.json")
        shutil.copytree(evaluated / f"eval_{name}", run / "eval_val")
    results = tmp_path / "results"
    collect(["realism", str(results), str(screen), "--baseline", "base", *BOOT])
    assert {r["variant"] for r in rows(results / "screening.csv")} == {"base", "other"}
    summary = {r["variant"]: r for r in rows(results / "screening_summary.csv")}
    assert float(summary["other"]["in_domain_diff"]) == pytest.approx(
        float(summary["other"]["in_domain"]) - float(summary["base"]["in_domain"]), abs=1e-3)
    assert (results / "screening_front.png").stat().st_size > 5_000


def test_qc_names_why_no_threshold_can_be_chosen_from_smoke_models(evaluated, tmp_path):
    """Smoke-trained models fail every slice: the collector refuses to choose a threshold and says why (the
    choice itself is tested on known scores in test_collect.py)."""
    with pytest.raises(SystemExit, match="only failed slices"):
        collect(["qc", str(tmp_path / "qc"), "--validation", str(evaluated / "runs" / "eval_seed0")])


def test_curves_export_the_tensorboard_scalars(evaluated, tmp_path):
    collect(["curves", str(tmp_path / "curves"), str(evaluated / "runs" / "model_a_seed0")])
    tags = {r["tag"] for r in rows(tmp_path / "curves.csv")}
    assert "train/loss" in tags and (tmp_path / "curves.png").is_file()


def test_a_stage_collects_after_its_job_and_mode_collect_runs_the_collector(evaluated, tmp_path):
    """An experiment stage: an evaluate job (here skipped by skip_done, its folder holding summary.json) with
    `collect` runs the experiment collector after it, which writes what the collector run alone writes; mode=collect
    re-collects the headline in-process; an empty collect is refused; a failing collector fails the job."""
    import run

    runs = tmp_path / "runs"
    shutil.copytree(evaluated / "runs", runs, symlinks=True)
    alone, staged = tmp_path / "alone", tmp_path / "staged"
    collect(["experiment", str(runs), str(alone), *BOOT])
    job = compose_cfg(runs / "eval_seed0", ["mode=evaluate", "skip_done=true",
                                            f"collect=[experiment,{runs},{staged},--,'evaluation.bootstrap_samples=50']"])
    assert run.finished(job) is not None and run.dispatch(job) is None
    assert (staged / "headline.csv").read_text() == (alone / "headline.csv").read_text()
    (staged / "headline.csv").unlink()
    run.dispatch(compose_cfg(tmp_path / "c", ["mode=collect", f"collect=[headline,{staged}]",
                                              "evaluation.bootstrap_samples=50"]))
    assert (staged / "headline.csv").read_text() == (alone / "headline.csv").read_text()
    with pytest.raises(ConfigError, match="mode=collect needs collect"):
        run.dispatch(compose_cfg(tmp_path / "c", ["mode=collect"]))
    broken = compose_cfg(runs / "eval_seed0", ["mode=evaluate", "skip_done=true", f"collect=[headline,{tmp_path}]"])
    with pytest.raises(DataError, match="failed after the job"):
        run.dispatch(broken)


def test_ship_models_writes_slim_checkpoints_and_cards_from_the_runs(evaluated, smoke_runs, tmp_path):
    """ship_models: each model's seed-0 run -> models/<name>.ckpt without optimiser state, with the frozen mode and
    the QC threshold given; its card names the run's command and carries its headline rows from headline.csv."""
    import torch

    from spine_synthseg.apps.ship_models import main as ship

    results = tmp_path / "results"
    collect(["experiment", str(evaluated / "runs"), str(results), *BOOT])
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, trained in (("model_a", "model_a"), ("model_b", "model_b"), ("model_b_aug", "model_b"),
                          ("model_c", "model_a")):
        run = runs / f"{name}_seed0"
        shutil.copytree(smoke_runs[trained]["dir"], run)
        (run / ".hydra").mkdir()  # the record run.py writes (the smoke runs were trained without Hydra)
        choices = json.loads((run / "metrics.json").read_text())["choices"]
        (run / ".hydra" / "hydra.yaml").write_text(json.dumps({"hydra": {"runtime": {"choices": choices}}}))
        (run / ".hydra" / "overrides.yaml").write_text(json.dumps([f"experiment={trained}", "budget=smoke"]))
    qc = tmp_path / "qc_threshold.json"
    qc.write_text(json.dumps({"score": "modes", "threshold": 0.75, "validation": "eval_qc_seed0"}))
    models = tmp_path / "models"
    ship([str(runs), str(results), str(models), "--mode", "full_pass", "--qc-threshold", str(qc), "--entry", "5"])
    ckpt = torch.load(models / "model_a.ckpt", map_location="cpu", weights_only=False)
    assert "optimizer_states" not in ckpt and ckpt["hyper_parameters"]["inference_mode"] == "full_pass"
    assert ckpt["quality"]["threshold"] == 0.75 and ckpt["quality"]["score"] == "modes"
    card = (models / "model_a.md").read_text()
    head = {(r["test"], r["model"]): r for r in rows(results / "headline.csv")}
    assert "`python run.py experiment=model_a seed=0`" in card and "entry 5" in card
    assert "the same training as" not in card  # the smoke run is not what data=synth composes
    assert ckpt["config"]["seed"] == 0 and ckpt["config"]["choices"]["data"] == "synth"
    assert f"{float(head[('space_test', 'model_a')]['mean']):.3f} [" in card
    assert "below 0.7500 flags a slice" in card
    with pytest.raises(SystemExit):
        ship(["--cards", str(results)])
