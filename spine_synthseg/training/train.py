"""Training entry: one Hydra config -> a trained model, checkpoints, TensorBoard logs and metrics.json.

Everything is instantiated from the config: the DataModule (``data``), the LightningModule (``module``, with
``model``, ``optimizer``, ``scheduler``), the callbacks (``callbacks``), the logger (``logger``) and the
Trainer (``trainer``).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from spine_synthseg.config import to_dict
from spine_synthseg.models.segmentation_module import SegmentationModule
from spine_synthseg.training.callbacks import ThroughputMonitor

log = logging.getLogger(__name__)


def build_module(cfg: DictConfig, datamodule) -> SegmentationModule:
    """The LightningModule of ``cfg.module`` for this DataModule's training source and validation sets, holding
    the DataModule's patient split (saved in every checkpoint: the run owns its split)."""
    datamodule.setup("fit")
    return instantiate(cfg.module, train_source=datamodule.train_source, val_sets=list(datamodule.val_sets),
                       splits=datamodule.split_record)


def _one(callbacks: list, kind: type):
    return next((c for c in callbacks if isinstance(c, kind)), None)


def train(cfg: DictConfig) -> dict:
    """Fit the configured model; returns (and writes to metrics.json) the run's metrics, with the path of the
    selected checkpoint under "checkpoint" (relative to the run folder)."""
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    pl.seed_everything(int(cfg.seed), workers=True)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, out / "config_resolved.yaml", resolve=True)
    datamodule = instantiate(cfg.data, _convert_="all")
    module = build_module(cfg, datamodule)
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    checkpoint, speed = _one(callbacks, ModelCheckpoint), _one(callbacks, ThroughputMonitor)
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=instantiate(cfg.logger),
                                      default_root_dir=str(out))
    t0 = time.perf_counter()
    trainer.fit(module, datamodule)
    train_s = time.perf_counter() - t0
    best = checkpoint.best_model_path or checkpoint.last_model_path
    results = trainer.validate(module, datamodule, ckpt_path=best, verbose=False)
    val = {k: float(v) for r in results for k, v in r.items() if "/dice" in k}
    metrics = {
        "run_name": cfg.run_name, "train_source": datamodule.train_source, "seed": int(cfg.seed),
        "max_steps": int(cfg.trainer.max_steps), "batch_size": int(cfg.data.batch_size),
        "train_seconds": round(train_s, 1), "train_images_per_s": speed.images_per_s if speed else None,
        "threads": torch.get_num_threads(), "checkpoint": str(Path(best).relative_to(out)), "monitor": checkpoint.monitor,
        "best_val_of_monitor": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "validation": val, "splits": datamodule.splits,
        "synth": to_dict(cfg.synth) if datamodule.train_source != "real" else None,
        "strength": cfg.get("strength"),  # randomisation=strength only
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log.info("validation Dice (best checkpoint): %s", val)
    return metrics
