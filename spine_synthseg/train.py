"""Training entry: one Hydra config -> a trained model, checkpoints, TensorBoard logs and metrics.json."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from spine_synthseg.config import to_dict
from spine_synthseg.models.segmentation_module import SegmentationModule

log = logging.getLogger(__name__)


class ThroughputMonitor(Callback):
    """Training images per second (wall clock, generation + forward + backward), after `skip` warm-up steps."""

    def __init__(self, skip: int = 5):
        self.skip, self.start, self.images = skip, None, 0

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.skip:
            self.start, self.images = time.perf_counter(), 0
        elif self.start is not None:
            self.images += batch["image"].shape[0]

    @property
    def images_per_s(self) -> float | None:
        if self.start is None or not self.images:
            return None
        return self.images / (time.perf_counter() - self.start)


def build_module(cfg: DictConfig, datamodule) -> SegmentationModule:
    return SegmentationModule(to_dict(cfg.model), datamodule.train_source, datamodule.val_sets,
                              **to_dict(cfg.optim), max_steps=int(cfg.trainer.max_steps),
                              preprocess=to_dict(cfg.preprocess))


def train(cfg: DictConfig) -> dict:
    """Fit the configured model; returns (and writes) the run's metrics."""
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    pl.seed_everything(int(cfg.seed), workers=True)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    datamodule = instantiate(cfg.data, _convert_="all")
    module = build_module(cfg, datamodule)
    monitor = cfg.monitor or ("val_synth/dice_mean" if datamodule.train_source == "synthetic" else "val_real/dice_mean")
    checkpoint = ModelCheckpoint(dirpath=out / "checkpoints", filename="best", monitor=monitor, mode="max", save_last=True)
    speed = ThroughputMonitor()
    logger = TensorBoardLogger(str(out), name="tensorboard", version="", default_hp_metric=False)
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=[checkpoint, speed, LearningRateMonitor()], logger=logger,
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
        "train_seconds": round(train_s, 1), "train_images_per_s": speed.images_per_s,
        "threads": torch.get_num_threads(), "checkpoint": str(Path(best).relative_to(out)), "monitor": monitor,
        "best_val_of_monitor": float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else None,
        "validation": val, "splits": datamodule.splits,
        "synth": to_dict(cfg.synth) if datamodule.train_source == "synthetic" else None,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    log.info("validation Dice (best checkpoint): %s", val)
    if cfg.evaluate_after_fit:
        from spine_synthseg.evaluation.evaluate import evaluate_checkpoints

        summary = evaluate_checkpoints(cfg, {str(cfg.run_name): best}, out / "evaluation")
        metrics["test"] = summary
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    OmegaConf.save(cfg, out / "config_resolved.yaml", resolve=True)
    return metrics
