"""Lightning DataModules: ``data=real`` (Model B) and ``data=synth`` (Model A, images made on the fly)."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from spine_synthseg.data.catalog import load_splits
from spine_synthseg.data.datasets import LabelMapDataset, RealSliceDataset, labels_only_batch, stack_label_maps
from spine_synthseg.data.splits import save_splits
from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.generator import SpineSynthGenerator
from spine_synthseg.synthesis.spatial import RandomSpatial

log = logging.getLogger(__name__)


class _TensorDictDataset(Dataset):
    def __init__(self, items: dict[str, torch.Tensor]):
        self.items = items

    def __len__(self) -> int:
        return next(iter(self.items.values())).shape[0]

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.items.items()}


class SpineDataModule(pl.LightningDataModule):
    """Shared loading, splitting and validation data. Subclasses choose what a training batch holds.

    source / preprocess / split: see conf/data. output_dir: where splits.json is written. monitor: the
    validation metric that selects this model's checkpoint (one of ``val_sets``).
    """

    val_sets: list[str] = ["val_real"]

    def __init__(self, source: dict, preprocess: dict, split: dict, cache_dir: str | None, output_dir: str,
                 batch_size: int = 8, num_workers: int = 0, seed: int = 0, monitor: str = "val_real/dice_mean"):
        super().__init__()
        if batch_size < 1:
            raise ConfigError(f"data.batch_size={batch_size} must be >= 1.")
        if monitor.split("/")[0] not in self.val_sets:
            raise ConfigError(f"data.monitor={monitor!r} names no validation set of this model; use one of "
                              f"{[v + '/dice_mean' for v in self.val_sets]}.")
        self.monitor = monitor
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
    """Model B: real training images, optionally with the same spatial deformation as Model A (no intensity aug).

    augment_spatial: a RandomSpatial (``${synth.spatial}``) or None."""

    train_source = "real"

    def __init__(self, *args, augment_spatial: RandomSpatial | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spatial = augment_spatial

    def train_dataloader(self):
        return self._loader(RealSliceDataset(self.train_slices), shuffle=True)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if not (self.trainer is not None and self.trainer.training):
            return batch
        batch = {**batch, "synthetic": False}
        if self.spatial is not None and self.spatial.enabled:
            image, labels = batch["image"], batch["structures"]
            params = self.spatial.sample(image.shape[0], tuple(image.shape[-2:]), self.rng(image.device), image.device)
            batch["image"] = self.spatial.apply_image(params, image)
            batch["structures"] = self.spatial.apply(params, labels[:, None])[:, 0]
        return batch


class SynthDataModule(SpineDataModule):
    """Model A: training batches are label maps of the training patients, turned into synthetic images on the
    batch's device by SpineSynthGenerator (``on_after_batch_transfer``). Validation: a fixed-seed synthetic set
    (val_synth, n_synth_val images drawn with val_seed) and the real validation patients (val_real), logged
    separately."""

    val_sets = ["val_synth", "val_real"]
    train_source = "synthetic"

    def __init__(self, *args, generator: SpineSynthGenerator, n_synth_val: int = 64, val_seed: int = 12345, **kwargs):
        super().__init__(*args, **kwargs)
        if float(generator.spacing_mm) != float(self.preprocess["spacing_mm"]):
            raise ConfigError(f"synth.spacing_mm={generator.spacing_mm} differs from preprocess.spacing_mm="
                              f"{self.preprocess['spacing_mm']}; leave it as ${{preprocess.spacing_mm}}.")
        self.generator = generator
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
