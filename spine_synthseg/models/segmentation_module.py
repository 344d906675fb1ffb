"""LightningModule shared by Model A (synthetic training) and Model B (real training)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import lightning.pytorch as pl
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchmetrics.segmentation import DiceScore

from spine_synthseg.errors import ConfigError
from spine_synthseg.models.inference import MODES, segment_slice
from spine_synthseg.models.loss import DiceCELoss
from spine_synthseg.structures import FOREGROUND, NUM_CLASSES, SHORT_NAMES
from spine_synthseg.visualisation import label_overlay
from spine_synthseg.tensors import argmax


SOURCES = ("synthetic", "real", "mixed")  # what a model's training batches are made of (Model C: mixed)


def _plain(node: Mapping | None) -> dict:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})


class SegmentationModule(pl.LightningModule):
    """Dice + CE training of `net`, per-structure validation Dice for each validation set.

    net, optimizer, scheduler: Hydra config nodes (``_target_`` + arguments: conf/model, conf/optimizer,
    conf/scheduler), saved in the checkpoint so that ``SegmentationModule.load_from_checkpoint(path)`` needs
    nothing else. preprocess: the working spacing / size the model was trained at (``models.inference`` checks it).
    train_source: "synthetic", "real" or "mixed" (Model C); a training batch whose provenance differs is an
    error, so no real image can reach Model A's training batches. val_sets: names of the validation dataloaders, in order.
    inference_mode: how whole real validation slices are segmented (models/inference.py); saved in the checkpoint,
    it is also what ``predict`` uses by default.
    splits: the patient split the run was trained with, {"source": source folder name, "train" / "val" / "test":
    patient ids}; saved in the checkpoint, so that evaluation scores the run on its own test patients and refuses
    its training and validation patients (``evaluation.run_split``). seed: the run's training seed (its label in
    every result table).
    validation_history: {global step: {"<set>/dice_<structure>" and "<set>/dice_mean": value}} of every
    validation this module ran (not saved in checkpoints): the best checkpoint's scores without validating it again.
    """

    def __init__(self, net: Mapping, optimizer: Mapping, scheduler: Mapping, train_source: str, val_sets: list[str],
                 preprocess: Mapping | None = None, n_logged_images: int = 4, inference_mode: str | None = None,
                 splits: Mapping | None = None, seed: int | None = None):
        super().__init__()
        if train_source not in SOURCES:
            raise ConfigError(f"train_source={train_source!r}; use one of {SOURCES}.")
        if inference_mode not in MODES:
            raise ConfigError(f"inference_mode={inference_mode!r}; use one of {MODES} (conf/config.yaml inference_mode).")
        net, optimizer, scheduler = _plain(net), _plain(optimizer), _plain(scheduler)
        if not 0 < float(optimizer.get("lr", 1e-3)) < 1:
            raise ConfigError(f"optimizer.lr={optimizer['lr']} is out of range (0, 1).")
        self.save_hyperparameters({"net": net, "optimizer": optimizer, "scheduler": scheduler,
                                   "train_source": train_source, "val_sets": list(val_sets),
                                   "preprocess": _plain(preprocess), "n_logged_images": n_logged_images,
                                   "inference_mode": inference_mode, "splits": _plain(splits) or None,
                                   "seed": seed})
        self.net = instantiate(net)
        self.loss = DiceCELoss()
        self.val_sets = list(val_sets)
        self.dice = nn.ModuleDict({
            name: DiceScore(NUM_CLASSES, include_background=False, average="none", input_format="index")
            for name in self.val_sets
        })
        self.validation_history: dict[int, dict[str, float]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        provenance = batch.get("synthetic", False)
        provenance = provenance if isinstance(provenance, str) else ("synthetic" if provenance else "real")
        if provenance != self.hparams.train_source:
            raise RuntimeError(f"A training batch of provenance {provenance} reached a model trained on "
                               f"{self.hparams.train_source} images; check the DataModule.")
        loss = self.loss(self(batch["image"]), batch["structures"])
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Either a batch of working-grid images (val_synth) or one whole native slice (val_real, segmented
        by ``inference.segment_slice`` in ``inference_mode``, as in deployment, and scored on its own grid)."""
        name = self.val_sets[dataloader_idx]
        if "spacing_mm" in batch:
            pred = segment_slice(self, batch["image"], batch["spacing_mm"], self.hparams.inference_mode)
            pred = torch.from_numpy(pred).long()[None]
            target = torch.from_numpy(batch["structures"]).long()[None]
            self.dice[name].update(pred.to(self.device), target.to(self.device))
            if batch_idx < self.hparams.n_logged_images:
                image = torch.from_numpy(batch["image"])
                image = image / image.flatten().quantile(0.995).clamp_min(1e-6)
                self._log_examples(f"{name}/example_{batch_idx}", image[None, None], target, pred)
            return
        logits = self(batch["image"])
        pred = argmax(logits, 1)
        self.log(f"{name}/loss", self.loss(logits, batch["structures"]), add_dataloader_idx=False)
        self.dice[name].update(pred, batch["structures"])
        if batch_idx == 0:
            self._log_examples(f"{name}/examples", batch["image"], batch["structures"], pred)

    def on_validation_epoch_end(self) -> None:
        scores = {}
        for name, metric in self.dice.items():
            per_class = metric.compute()
            metric.reset()
            for short, value in zip((SHORT_NAMES[s] for s in FOREGROUND), per_class):
                if not math.isnan(float(value)):
                    self.log(f"{name}/dice_{short}", value)
                    scores[f"{name}/dice_{short}"] = float(value)
            mean = torch.nanmean(per_class)
            self.log(f"{name}/dice_mean", mean, prog_bar=True)
            scores[f"{name}/dice_mean"] = float(mean)
        self.validation_history[self.global_step] = scores

    def _log_examples(self, tag: str, image, target, pred) -> None:
        """TensorBoard image `tag`: per row, truth | prediction overlaid on the image."""
        writer = getattr(self.logger, "experiment", None)
        if writer is None or not hasattr(writer, "add_image"):
            return
        n = min(self.hparams.n_logged_images, image.shape[0])
        rows = [torch.cat([label_overlay(image[i, 0], target[i]), label_overlay(image[i, 0], pred[i])], 2) for i in range(n)]
        writer.add_image(f"{tag}_truth_vs_prediction", torch.cat(rows, 1), self.global_step)

    def configure_optimizers(self):
        opt = instantiate(self.hparams.optimizer, params=self.parameters())
        sched = instantiate(self.hparams.scheduler, optimizer=opt)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
