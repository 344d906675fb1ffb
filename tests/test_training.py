"""Smoke training of both models through the compose API, the synthetic-only guarantee, and a real multirun."""

import json
import math
import subprocess
import sys

import lightning.pytorch as pl
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from spine_synthseg.config import PROJECT_ROOT, to_dict
from spine_synthseg.errors import ConfigError
from spine_synthseg.training.train import build_module
from tests.helpers import compose_cfg


def test_model_a_smoke_run_writes_outputs(smoke_runs):
    out = smoke_runs["model_a"]["dir"]
    assert smoke_runs["model_a"]["ckpt"].is_file() and list((out / "tensorboard").glob("events.*"))
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["train_source"] == "synthetic" and saved["monitor"] == "val_synth/dice_mean"
    assert {"val_real/dice_vertebra", "val_real/dice_disc", "val_real/dice_canal", "val_synth/dice_mean"} <= set(saved["validation"])
    assert json.loads((out / "splits.json").read_text()) == saved["splits"]
    # the config saved with the run is the one that built the generator
    used = OmegaConf.to_container(OmegaConf.load(out / "config_resolved.yaml").synth)
    assert used == saved["synth"] == to_dict(compose_cfg(out, ["experiment=model_a"]).synth)


def test_model_b_smoke_run(smoke_runs):
    metrics = smoke_runs["model_b"]["metrics"]
    assert metrics["train_source"] == "real" and "val_real/dice_mean" in metrics["validation"]
    assert "val_synth/dice_mean" not in metrics["validation"] and metrics["monitor"] == "val_real/dice_mean"


def test_best_checkpoint_scores_are_those_of_a_fresh_validation(smoke_runs):
    """metrics.json's validation Dice is the one logged when the best checkpoint was saved (train.best_validation):
    a fresh trainer.validate of that checkpoint gives the same values."""
    run = smoke_runs["model_a"]
    cfg = compose_cfg(run["dir"], ["experiment=model_a", "evaluate_after_fit=false"])
    dm = instantiate(cfg.data, _convert_="all")
    module = build_module(cfg, dm)
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[], default_root_dir=str(run["dir"]))
    fresh = trainer.validate(module, dm, ckpt_path=run["ckpt"], verbose=False)
    assert run["metrics"]["validation"] == {k: float(v) for r in fresh for k, v in r.items() if "/dice" in k}
    assert {"val_synth/dice_mean", "val_real/dice_mean", "val_real/dice_vertebra"} <= set(run["metrics"]["validation"])
    assert run["metrics"]["best_step"] == cfg.trainer.max_steps
    assert run["metrics"]["best_validation"] == "logged at its step"  # not a second validation that equals itself


def test_best_validation_reads_the_step_of_the_checkpoint(tmp_path):
    """train.best_validation: the history entry of the checkpoint's step; a fresh validation for a step this fit did
    not validate (a resumed run)."""
    from types import SimpleNamespace

    from spine_synthseg.training.train import best_validation

    torch.save({"global_step": 4}, tmp_path / "best.ckpt")
    module = SimpleNamespace(validation_history={2: {"val/dice_mean": 0.2}, 4: {"val/dice_mean": 0.4}})
    fresh = SimpleNamespace(validate=lambda *a, **k: [{"val/dice_mean": 0.9, "val/loss": 1.0}])
    assert best_validation(fresh, module, None, str(tmp_path / "best.ckpt")) == (4, {"val/dice_mean": 0.4}, "logged at its step")
    module.validation_history.pop(4)
    assert best_validation(fresh, module, None, str(tmp_path / "best.ckpt")) == (4, {"val/dice_mean": 0.9}, "validated again")


class CaptureBatches(pl.Callback):
    def __init__(self):
        self.batches = []

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.batches.append({k: (v.clone() if torch.is_tensor(v) else v) for k, v in batch.items()})


def test_model_a_batches_are_only_synthetic(tmp_path, data_root):
    """Poison every real image with NaN: if any real pixel reached a training batch, it would show."""
    cfg = compose_cfg(tmp_path, ["experiment=model_a"])
    dm = instantiate(cfg.data, _convert_="all")
    dm.setup("fit")
    dm.train_slices.image.fill_(float("nan"))
    dm.val_slices.image.fill_(float("nan"))
    capture = CaptureBatches()
    trainer = pl.Trainer(max_steps=3, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, callbacks=[capture], accelerator="cpu")
    trainer.fit(build_module(cfg, dm), dm)
    assert len(capture.batches) == 3
    for batch in capture.batches:
        assert batch["synthetic"] is True and torch.isfinite(batch["image"]).all()
        assert batch["image"].shape[1:] == (1, *cfg.preprocess.size)


def test_model_a_trains_in_bf16_with_real_cluster_sub_labels(tmp_path, data_root):
    """bf16-mixed (the precision on CPUs with native bf16) trains, and the disclosed real_clusters sub-region mode
    gets per-class clusters from preprocessing (non-zero inside the structures) through crops and deformation."""
    cfg = compose_cfg(tmp_path, ["experiment=model_a", "subregions=real_clusters"])
    dm = instantiate(cfg.data, _convert_="all")
    dm.setup("fit")
    inside = dm.train_slices.structures > 0
    assert dm.train_slices.clusters[inside].max() > 0 and dm.train_slices.clusters.max() < cfg.synth.subregions.n_clusters
    module = build_module(cfg, dm)
    trainer = pl.Trainer(max_steps=2, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, accelerator="cpu", precision="bf16-mixed")
    trainer.fit(module, dm)
    assert trainer.global_step == 2 and all(torch.isfinite(p).all() for p in module.parameters())


def test_model_c_batches_mix_synthetic_and_real_images(tmp_path, data_root):
    """Model C: the first half of each batch is synthesised from label maps (its real images poisoned with NaN
    never show), the second half holds the real images."""
    cfg = compose_cfg(tmp_path, ["experiment=model_c", "budget=smoke"])
    dm = instantiate(cfg.data, _convert_="all")
    dm.setup("fit")
    assert dm.train_source == "mixed" and dm.val_sets == ["val_synth", "val_real"]
    capture = CaptureBatches()
    trainer = pl.Trainer(max_steps=2, limit_val_batches=0, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, callbacks=[capture], accelerator="cpu")
    dm.train_slices.image[:] = float("nan")
    trainer.fit(build_module(cfg, dm), dm)
    for batch in capture.batches:
        n = batch["image"].shape[0] // 2
        assert batch["synthetic"] == "mixed" and batch["image"].shape[0] == cfg.data.batch_size
        assert torch.isfinite(batch["image"][:n]).all() and torch.isnan(batch["image"][n:]).any()


def test_real_batch_is_refused_by_model_a(tmp_path, data_root):
    cfg = compose_cfg(tmp_path, ["experiment=model_a"])
    dm = instantiate(cfg.data, _convert_="all")
    module = build_module(cfg, dm)
    real = {"image": torch.zeros(2, 1, 32, 32), "structures": torch.zeros(2, 32, 32, dtype=torch.long), "synthetic": False}
    with pytest.raises(RuntimeError, match="provenance real"):
        module.training_step(real, 0)


@pytest.mark.slow
def test_multirun_names_runs_by_experiment_and_returns_the_metric(tmp_path, data_root):
    """python run.py -m experiment=model_a,model_b budget=smoke: one run per experiment, named by it, each with
    the experiment and Hydra's choices in metrics.json, and the optimised metric returned to the sweeper."""
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "run.py", "-m", "experiment=model_a,model_b", "budget=smoke", "source=sample",
           "evaluate_after_fit=false", f"hydra.sweep.dir={sweep}"]
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                            encoding="utf-8", errors="replace")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted(sweep.glob("*/metrics.json"))
    assert [p.parent.name for p in runs] == ["0_model_a_source=sample", "1_model_b_source=sample"]
    metrics = [json.loads(p.read_text()) for p in runs]
    assert [m["experiment"] for m in metrics] == ["model_a", "model_b"]
    assert [m["choices"]["budget"] for m in metrics] == ["smoke", "smoke"] and metrics[0]["choices"]["data"] == "synth"
    assert all(not math.isnan(m["validation"]["val_real/dice_mean"]) for m in metrics)


def test_run_py_returns_the_optimized_metrics():
    from run import optimized

    metrics = {"validation": {"val_real/dice_mean": 0.5, "val_synth/dice_mean": 0.7}}
    assert optimized(metrics, "val_real/dice_mean") == 0.5
    assert optimized(metrics, ["val_real/dice_mean", "val_synth/dice_mean"]) == [0.5, 0.7]
    assert optimized(metrics, None) is None
    with pytest.raises(ConfigError, match="val_shift"):
        optimized(metrics, ["val_shift/vb_dice"])


def test_skip_done_resumes_a_sweep_without_recomputing(tmp_path, monkeypatch):
    """skip_done=true: a train run whose folder holds metrics.json returns its stored metric, an evaluate run
    whose folder holds summary.json returns at once; without the marker, or with skip_done=false, the mode runs."""
    import run
    from spine_synthseg.apps import train_evaluate

    calls = []
    monkeypatch.setattr(train_evaluate, "train_and_evaluate", lambda cfg: calls.append(cfg.mode) or
                        {"validation": {"val_real/dice_mean": 0.25}})
    cfg = compose_cfg(tmp_path, ["skip_done=true"])
    assert run.dispatch(cfg) == 0.25 and calls == ["train"]  # no metrics.json yet: trained
    (tmp_path / "metrics.json").write_text(json.dumps({"validation": {"val_real/dice_mean": 0.75}}))
    assert run.dispatch(cfg) == 0.75 and calls == ["train"]  # skipped: the stored metric
    assert run.dispatch(compose_cfg(tmp_path, ["skip_done=false"])) == 0.25 and calls == ["train", "train"]
    evaluate = compose_cfg(tmp_path, ["skip_done=true", "mode=evaluate"])
    assert run.finished(evaluate) is None
    (tmp_path / "summary.json").write_text("{}")
    assert run.finished(evaluate) == tmp_path / "summary.json" and run.dispatch(evaluate) is None


def test_threads_apply_to_every_mode(tmp_path):
    """threads=1 holds for an evaluate job too (two side-by-side evaluations once ran on torch's default each)."""
    import torch

    import run

    before = torch.get_num_threads()
    (tmp_path / "summary.json").write_text("{}")
    try:
        torch.set_num_threads(2)
        run.dispatch(compose_cfg(tmp_path, ["mode=evaluate", "skip_done=true", "threads=1"]))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_null_callbacks_are_skipped_and_loggers_may_be_several(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from spine_synthseg.training.train import instantiate_callbacks, instantiate_loggers

    cfg = compose_cfg(tmp_path, ["callbacks.lr_monitor=null"])
    callbacks = instantiate_callbacks(cfg.callbacks)
    assert len(callbacks) == 2 and isinstance(callbacks[0], ModelCheckpoint)
    with pytest.raises(ConfigError, match="callbacks.bad has no _target_"):
        instantiate_callbacks(OmegaConf.create({"bad": {"x": 1}}))
    one = instantiate_loggers(cfg.logger)
    two = instantiate_loggers(OmegaConf.create({
        "tb": OmegaConf.to_container(cfg.logger, resolve=True), "off": None,
        "csv": {"_target_": "lightning.pytorch.loggers.CSVLogger", "save_dir": str(tmp_path)}}))
    assert [type(x) for x in one] == [TensorBoardLogger] and [type(x) for x in two] == [TensorBoardLogger, CSVLogger]
    assert instantiate_loggers(None) == []


def test_throughput_is_logged_at_the_start(caplog):
    import logging
    from types import SimpleNamespace

    from spine_synthseg.training.callbacks import ThroughputMonitor

    monitor, trainer = ThroughputMonitor(skip=1, report_after=3), SimpleNamespace(global_step=0, precision="32-true")
    batch = {"image": torch.zeros(8, 1, 4, 4)}
    with caplog.at_level(logging.INFO):
        for step in range(1, 6):
            trainer.global_step = step
            monitor.on_train_batch_end(trainer, None, None, batch, step)
    assert "training at" in caplog.text and "images/s" in caplog.text and monitor.images_per_s > 0
