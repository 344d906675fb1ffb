"""Lightning DataModules: ``data=real`` (Model B), ``data=real_aug`` (Model B+aug) and ``data=synth`` (Model A).

Training batches are crops of whole slices (``crops.RandomCrop``: uniform over the slice, a share forced onto
foreground), taken on the batch's device in ``on_after_batch_transfer``. Validation on real patients segments
each whole slice at its native grid through ``models.inference.segment_slice`` (the path ``predict`` uses) and
scores it there; no ground truth is used before scoring.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from spine_synthseg.data.catalog import load_native, load_splits
from spine_synthseg.data.datasets import LabelMapDataset, NativeSliceDataset, RealSliceDataset, labels_only_batch, stack_label_maps
from spine_synthseg.data.splits import save_splits
from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis.generator import SpineSynthGenerator
from spine_synthseg.synthesis.spatial import RandomSpatial
from spine_synthseg.training.augmentation import NnUNetIntensityAugmentation
from spine_synthseg.training.crops import RandomCrop
from spine_synthseg.training.negatives import Negatives

log = logging.getLogger(__name__)
LABEL_KEYS = ("structures", "instances", "bg_distance", "clusters", "tissue")


def _as_is(item: dict) -> dict:
    """Keep a native slice as numpy (the default conversion would make tensors of it)."""
    return item


class _TensorDictDataset(Dataset):
    def __init__(self, items: dict[str, torch.Tensor]):
        self.items = items

    def __len__(self) -> int:
        return next(iter(self.items.values())).shape[0]

    def __getitem__(self, i: int) -> dict:
        return {k: v[i] for k, v in self.items.items()}


class SpineDataModule(pl.LightningDataModule):
    """Shared loading, splitting, cropping and real validation. Subclasses choose what a training batch holds.

    source / preprocess / split: see conf/data. output_dir: where splits.json is written. monitor: the
    validation metric that selects this model's checkpoint (one of ``val_sets``). crop_foreground_prob: share
    of training crops forced to contain foreground (nnU-Net: 1/3). crop_background_prob: share of crops with the
    least foreground of 8 candidates (``crops.RandomCrop``). negatives: training images replaced by ones whose
    right answer is empty (``negatives.Negatives``), the same for every model; None: none.
    """

    val_sets: list[str] = ["val_real"]

    def __init__(self, source: dict, preprocess: dict, split: dict, cache_dir: str | None, output_dir: str,
                 batch_size: int = 8, num_workers: int = 0, seed: int = 0, monitor: str = "val_real/dice_mean",
                 crop_foreground_prob: float = 1 / 3, crop_background_prob: float = 0.0,
                 negatives: Negatives | None = None):
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
        self.crop = RandomCrop(tuple(self.preprocess["size"]), crop_foreground_prob, crop_background_prob)
        self.negatives = negatives or Negatives(0.0)
        self.splits: dict[str, list[str]] | None = None
        self._rng: dict[str, torch.Generator] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        slices, self.splits = load_splits(self.source, self.preprocess, self.split, self.cache_dir)
        save_splits(self.splits, self.output_dir / "splits.json")
        self.train_slices = slices.of_patients(self.splits["train"])
        self.val_slices = slices.of_patients(self.splits["val"])
        self.val_native = load_native(self.source, self.splits["val"])
        log.info("split: %s patients, %d train / %d val slices", {k: len(v) for k, v in self.splits.items()},
                 len(self.train_slices), len(self.val_native))

    @property
    def split_record(self) -> dict:
        """The split with the source it belongs to: {"source": folder name, "train" / "val" / "test": ids}."""
        if self.splits is None:
            raise RuntimeError("split_record is known after setup(); call setup() first.")
        return {"source": Path(self.source["root"]).name, **self.splits}

    def rng(self, device: torch.device) -> torch.Generator:
        """Per-device training RNG, seeded from the config seed and the process rank (DDP ranks differ)."""
        key = str(device)
        if key not in self._rng:
            rank = self.trainer.global_rank if self.trainer is not None else 0
            self._rng[key] = torch.Generator(device=device).manual_seed(self.seed * 1000 + 17 + rank)
        return self._rng[key]

    def _loader(self, ds: Dataset, shuffle: bool) -> DataLoader:
        gen = torch.Generator().manual_seed(self.seed)
        drop_last = shuffle and len(ds) >= self.batch_size  # a tiny set (source=sample) still gives one batch
        return DataLoader(ds, batch_size=self.batch_size, shuffle=shuffle, drop_last=drop_last, generator=gen,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def val_dataloader(self):
        """val_real: one whole native slice per item (sizes differ), segmented and scored at its own grid."""
        return [DataLoader(NativeSliceDataset(self.val_native), batch_size=None, shuffle=False, collate_fn=_as_is)]

    def _training(self) -> bool:
        return self.trainer is not None and self.trainer.training


class RealDataModule(SpineDataModule):
    """Model B: crops of real training slices with the same spatial deformation as Model A; Model B+aug adds
    nnU-Net's default intensity augmentation (``intensity_augmentation``), never the generator's.

    augment_spatial: a RandomSpatial (``${synth.spatial}``) or None."""

    train_source = "real"

    def __init__(self, *args, augment_spatial: RandomSpatial | None = None,
                 intensity_augmentation: NnUNetIntensityAugmentation | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.spatial = augment_spatial
        self.intensity = intensity_augmentation

    def train_dataloader(self):
        return self._loader(RealSliceDataset(self.train_slices), shuffle=True)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if not self._training():
            return batch
        rng = self.rng(batch["image"].device)
        crop = self.crop(batch, ("image", "structures"), rng)
        image, labels = crop["image"], crop["structures"]
        if self.spatial is not None and self.spatial.enabled:
            params = self.spatial.sample(image.shape[0], tuple(image.shape[-2:]), rng, image.device)
            image = self.spatial.apply_image(params, image)
            labels = self.spatial.apply(params, labels[:, None])[:, 0]
        if self.intensity is not None:
            image = self.intensity(image, rng)
        image, labels, _ = self.negatives(image, labels, rng)
        return {"image": image, "structures": labels, "synthetic": False}


class SynthDataModule(SpineDataModule):
    """Model A: training batches are crops of the training patients' label maps, turned into synthetic images on
    the batch's device by SpineSynthGenerator (``on_after_batch_transfer``). Validation: a fixed-seed synthetic
    set (val_synth: n_synth_val whole label maps drawn with val_seed, selects the checkpoint without real
    images) and the real validation patients (val_real), logged separately."""

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
            labels = {k: v for k, v in stack_label_maps(self.val_slices, idx).items() if k in LABEL_KEYS}
            out = self.generator.generate_batch(labels, torch.Generator().manual_seed(self.val_seed))
            self.synth_val = {"image": out.image, "structures": out.structures,
                              "annotated": torch.ones(n, 3, dtype=torch.bool)}

    def train_dataloader(self):
        return self._loader(LabelMapDataset(self.train_slices), shuffle=True)

    def val_dataloader(self):
        return [self._loader(_TensorDictDataset(self.synth_val), shuffle=False)] + super().val_dataloader()

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if not self._training():
            return batch
        rng = self.rng(batch["structures"].device)
        labels = self.crop(labels_only_batch(batch), LABEL_KEYS, rng)
        out = self.generator.generate_batch(labels, rng)
        image, structures, _ = self.negatives(out.image, out.structures, rng)
        return {"image": image, "structures": structures, "synthetic": True}
