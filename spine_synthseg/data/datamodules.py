"""Lightning DataModules: ``data=real`` (Model B) and ``data=synth`` (Model A, images made on the fly)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from spine_synthseg.data.datasets import LabelMapDataset, RealSliceDataset, labels_only_batch, stack_label_maps
from spine_synthseg.data.preprocess import PreprocessConfig
from spine_synthseg.data.slice_set import SliceSet
from spine_synthseg.data.sources import load_slice_set, parse_source
from spine_synthseg.data.splits import save_splits, split_patients
from spine_synthseg.synthesis import SpineSynthGenerator
from spine_synthseg.synthesis.spatial import RandomSpatial

log = logging.getLogger(__name__)


def parse_preprocess(preprocess: dict) -> PreprocessConfig:
    """PreprocessConfig from a plain config dict (lists become tuples)."""
    return PreprocessConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in preprocess.items()})


def load_splits(source: dict, preprocess: dict, split: dict, cache_dir: str | None) -> tuple[SliceSet, dict[str, list[str]]]:
    """The preprocessed source and its patient-level split (deterministic in split.seed)."""
    prep = parse_preprocess(preprocess)
    slices = load_slice_set(parse_source(source), prep, cache_dir)
    return slices, split_patients(slices.patient_ids, dict(split["fractions"]), int(split["seed"]))


class _TensorDictDataset(Dataset):
    def __init__(self, items: dict[str, torch.Tensor]):
        self.items = items

    def __len__(self) -> int:
        return next(iter(self.items.values())).shape[0]

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.items.items()}


class SpineDataModule(pl.LightningDataModule):
    """Shared loading, splitting and validation data. Subclasses choose what a training batch holds.

    source / preprocess / split: see conf/data. output_dir: where splits.json is written.
    """

    val_sets: list[str] = ["val_real"]

    def __init__(self, source: dict, preprocess: dict, split: dict, cache_dir: str | None, output_dir: str,
                 batch_size: int = 8, num_workers: int = 0, seed: int = 0, **_: Any):
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"data.batch_size={batch_size} must be >= 1.")
        self.source, self.preprocess, self.split = dict(source), dict(preprocess), dict(split)
        self.cache_dir, self.output_dir = cache_dir, Path(output_dir)
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.splits: dict[str, list[str]] | None = None
        self._rng: dict[str, torch.Generator] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        slices, self.splits = load_splits(self.source, self.preprocess, self.split, self.cache_dir)
        save_splits(self.splits, self.output_dir / "splits.json")
        self.train_slices = slices.of_patients(self.splits["train"])
        self.val_slices = slices.of_patients(self.splits["val"])
        log.info("split: %s patients, %d train / %d val slices", {k: len(v) for k, v in self.splits.items()},
                 len(self.train_slices), len(self.val_slices))

    def rng(self, device: torch.device) -> torch.Generator:
        """Per-device training RNG, seeded from the config seed and the process rank (DDP ranks differ)."""
        key = str(device)
        if key not in self._rng:
            rank = self.trainer.global_rank if self.trainer is not None else 0
            self._rng[key] = torch.Generator(device=device).manual_seed(self.seed * 1000 + 17 + rank)
        return self._rng[key]

    def _loader(self, ds: Dataset, shuffle: bool) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(ds, batch_size=self.batch_size, shuffle=shuffle, drop_last=shuffle, generator=gen,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self):
        return [self._loader(RealSliceDataset(self.val_slices), shuffle=False)]


class RealDataModule(SpineDataModule):
    """Model B: real training images, optionally with the same spatial deformation as Model A (no intensity aug)."""

    train_source = "real"

    def __init__(self, *args, augment_spatial: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.augment_spatial = dict(augment_spatial or {})

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        p = parse_preprocess(self.preprocess)
        self.spatial = RandomSpatial(**self.augment_spatial, spacing_mm=p.spacing_mm, size=p.size) if self.augment_spatial else None

    def train_dataloader(self):
        return self._loader(RealSliceDataset(self.train_slices), shuffle=True)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if not (self.trainer is not None and self.trainer.training):
            return batch
        batch = {**batch, "synthetic": False}
        if self.spatial is not None and self.spatial.enabled:
            image, labels = batch["image"], batch["structures"]
            params = self.spatial.sample(image.shape[0], self.rng(image.device), image.device, image.shape[-2:])
            batch["image"] = self.spatial.apply_image(params, image)
            batch["structures"] = self.spatial.apply(params, labels[:, None])[:, 0]
        return batch


class SynthDataModule(SpineDataModule):
    """Model A: training batches are label maps of the training patients, turned into synthetic images on the
    batch's device by SpineSynthGenerator (``on_after_batch_transfer``). Validation: a fixed-seed synthetic set
    (val_synth) and the real validation patients (val_real), logged separately."""

    val_sets = ["val_synth", "val_real"]
    train_source = "synthetic"

    def __init__(self, *args, synth: dict | None = None, n_synth_val: int = 64, val_seed: int = 12345, **kwargs):
        super().__init__(*args, **kwargs)
        p = parse_preprocess(self.preprocess)
        self.generator = SpineSynthGenerator({**dict(synth or {}), "spacing_mm": p.spacing_mm, "size": p.size})
        self.n_synth_val, self.val_seed = n_synth_val, val_seed

    def setup(self, stage: str | None = None) -> None:
        first = self.splits is None
        super().setup(stage)
        if first:
            n = min(self.n_synth_val, len(self.val_slices))
            idx = torch.linspace(0, len(self.val_slices) - 1, n).round().long().tolist()
            labels = stack_label_maps(self.val_slices, idx)
            out = self.generator.generate_batch(labels, torch.Generator().manual_seed(self.val_seed))
            self.synth_val = {"image": out.image, "structures": out.structures,
                              "annotated": torch.ones(n, 3, dtype=torch.bool)}

    def train_dataloader(self):
        return self._loader(LabelMapDataset(self.train_slices), shuffle=True)

    def val_dataloader(self):
        return [self._loader(_TensorDictDataset(self.synth_val), shuffle=False)] + super().val_dataloader()

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if not (self.trainer is not None and self.trainer.training):
            return batch
        out = self.generator.generate_batch(labels_only_batch(batch), self.rng(batch["structures"].device))
        return {"image": out.image, "structures": out.structures, "synthetic": True}
