"""Training entry: one Hydra config -> a trained model, checkpoints, TensorBoard logs and metrics.json.

Everything is instantiated from the config: the DataModule (``data``), the LightningModule (``module``, with
``model``, ``optimizer``, ``scheduler``), the callbacks (``callbacks``: null entries are skipped), the logger or
loggers (``logger``: one node with ``_target_``, or a mapping of such nodes) and the Trainer (``trainer`` for the
device, ``budget`` for the steps).
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from spine_synthseg.config import to_dict
from spine_synthseg.errors import ConfigError
from spine_synthseg.models.segmentation_module import SegmentationModule
from spine_synthseg.training.callbacks import ThroughputMonitor

log = logging.getLogger(__name__)


def build_module(cfg: DictConfig, datamodule) -> SegmentationModule:
    """The LightningModule of ``cfg.module`` for this DataModule's training source and validation sets, holding
    the DataModule's patient split (saved in every checkpoint: the run owns its split)."""
    datamodule.setup("fit")
    return instantiate(cfg.module, train_source=datamodule.train_source, val_sets=list(datamodule.val_sets),
                       splits=datamodule.split_record)


def code_version() -> str:
    """The git commit of the code that trained the run ("+dirty" with uncommitted changes; "unknown" outside git)."""
    root = Path(__file__).resolve().parents[2]
    try:
        run = lambda *a: subprocess.run(["git", *a], cwd=root, capture_output=True, text=True, check=True).stdout
        commit = run("rev-parse", "--short", "HEAD").strip()
        return commit + ("+dirty" if run("status", "--porcelain", "--untracked-files=no").strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _one(callbacks: list, kind: type):
    return next((c for c in callbacks if isinstance(c, kind)), None)


def instantiate_callbacks(node) -> list:
    """The callbacks of a ``callbacks`` mapping, in order; entries that are null (switched off with
    ``callbacks.NAME=null``) are skipped, and an entry without ``_target_`` is a ConfigError naming it."""
    out = []
    for name, c in (node or {}).items():
        if c is None:
            continue
        if "_target_" not in c:
            raise ConfigError(f"callbacks.{name} has no _target_; give one or set callbacks.{name}=null.")
        out.append(instantiate(c))
    return out


def instantiate_loggers(node) -> list:
    """The loggers of ``logger``: one node with ``_target_``, or a mapping of such nodes (null entries skipped);
    null or empty: no logger."""
    if not node:
        return []
    if "_target_" in node:
        return [instantiate(node)]
    return [instantiate(c) for c in node.values() if c is not None]


def best_validation(trainer: pl.Trainer, module: SegmentationModule, datamodule, best: str) -> tuple[int, dict, str]:
    """(training step, validation Dice, where it came from) of the checkpoint `best`: the scores logged when it was
    saved ("logged at its step": the same weights and images, so the same values, tests/test_training.py), or, for
    a checkpoint this fit did not validate (a resumed run), a fresh ``trainer.validate`` ("validated again")."""
    step = int(torch.load(best, map_location="cpu", weights_only=False)["global_step"])
    if step in module.validation_history:
        return step, dict(module.validation_history[step]), "logged at its step"
    log.info("the best checkpoint (step %d) was not validated in this fit; validating it", step)
    results = trainer.validate(module, datamodule, ckpt_path=best, verbose=False)
    return step, {k: float(v) for r in results for k, v in r.items() if "/dice" in k}, "validated again"


def train(cfg: DictConfig) -> dict:
    """Fit the configured model; returns the run's metrics (``apps.train_evaluate`` writes them to metrics.json),
    with the path of the selected checkpoint under "checkpoint" (relative to the run folder)."""
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    pl.seed_everything(int(cfg.seed), workers=True)
    commit = code_version()  # of the code that starts the run
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / "config_resolved.yaml", resolve=True)
    t_prepare = time.perf_counter()
    datamodule = instantiate(cfg.data, _convert_="all")
    module = build_module(cfg, datamodule)  # reads and preprocesses the source (or its cache)
    prepare_s = time.perf_counter() - t_prepare
    callbacks = instantiate_callbacks(cfg.callbacks)
    checkpoint, speed = _one(callbacks, ModelCheckpoint), _one(callbacks, ThroughputMonitor)
    if checkpoint is None:
        raise ConfigError("callbacks has no ModelCheckpoint: the run must select and save a checkpoint "
                          "(callbacks.checkpoint).")
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=instantiate_loggers(cfg.logger) or False,
                                      default_root_dir=str(out))
    log.info("training %s: %s steps, precision %s, %d threads", cfg.run_name, cfg.trainer.max_steps,
             trainer.precision, torch.get_num_threads())
    t0 = time.perf_counter()
    trainer.fit(module, datamodule)
    train_s = time.perf_counter() - t0
    images_per_s = speed.images_per_s if speed else None  # over the fit alone
    best = checkpoint.best_model_path or checkpoint.last_model_path
    t_validate = time.perf_counter()
    best_step, val, source = best_validation(trainer, module, datamodule, best)
    validate_s = time.perf_counter() - t_validate
    choices = to_dict(cfg.get("choices"))
    metrics = {
        "run_name": cfg.run_name, "experiment": choices.get("experiment"), "choices": choices,
        "train_source": datamodule.train_source, "seed": int(cfg.seed), "commit": commit, "precision": str(trainer.precision),
        "max_steps": int(cfg.trainer.max_steps), "batch_size": int(cfg.data.batch_size),
        "train_seconds": round(train_s, 1), "train_images_per_s": images_per_s,
        "stage_seconds": {"prepare": round(prepare_s, 1), "fit": round(train_s, 1), "validate_best": round(validate_s, 1)},
        "threads": torch.get_num_threads(), "checkpoint": str(Path(best).relative_to(out)), "best_step": best_step,
        "best_validation": source, "monitor": checkpoint.monitor,
        "best_val_of_monitor": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "validation": val, "splits": datamodule.splits,
        "synth": to_dict(cfg.synth) if datamodule.train_source != "real" else None,
        "strength": cfg.get("strength"),  # randomisation=strength only
    }
    log.info("validation Dice (best checkpoint): %s", val)
    return metrics
