"""Model C: synthetic and real images mixed in every training batch (``data=mixed``, ``experiment=model_c``).

Each batch of training slices is split: the first round(synthetic_fraction x B) slices are used through their
label maps only (SpineSynthGenerator, as for Model A), the rest as real images (crops, Model B's spatial
deformation and, if configured, nnU-Net's intensity augmentation, as for Model B / B+aug). The real images of the
synthetic share are dropped before synthesis. Validation and checkpoint selection: the real validation patients
(as Model B), plus the synthetic validation set, logged.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from spine_synthseg.data.datasets import LabelMapDataset, RealSliceDataset
from spine_synthseg.synthesis.generator import LABEL_KEYS
from spine_synthseg.synthesis.sampling import check_range
from spine_synthseg.training.datamodules import RealDataModule, SynthDataModule


class _RealAndLabelMaps(Dataset):
    """A real slice with its label maps: {"image", "structures", "annotated", "shape", "instances", ...}."""

    def __init__(self, slices) -> None:
        self.real, self.maps = RealSliceDataset(slices), LabelMapDataset(slices)

    def __len__(self) -> int:
        return len(self.real)

    def __getitem__(self, i: int) -> dict:
        return {**self.maps[i], **self.real[i]}


class MixedDataModule(SynthDataModule, RealDataModule):
    """synthetic_fraction: share of each training batch made synthetic (0-1). Other arguments: see
    SynthDataModule (generator, synthetic validation) and RealDataModule (augment_spatial, intensity_augmentation)."""

    train_source = "mixed"

    def __init__(self, *args, synthetic_fraction: float = 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        self.synthetic_fraction = check_range("data.synthetic_fraction", synthetic_fraction, 0, 1)

    def train_dataloader(self):
        return self._loader(_RealAndLabelMaps(self.train_slices), shuffle=True)

    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        if not self._training():
            return batch
        n = int(round(self.synthetic_fraction * batch["structures"].shape[0]))
        parts = []
        if n > 0:
            maps = {k: batch[k][:n] for k in (*LABEL_KEYS, "shape")}
            parts.append(SynthDataModule.on_after_batch_transfer(self, maps, dataloader_idx))
        if n < batch["structures"].shape[0]:
            real = {k: batch[k][n:] for k in ("image", "structures", "annotated", "shape")}
            parts.append(RealDataModule.on_after_batch_transfer(self, real, dataloader_idx))
        return {"image": torch.cat([p["image"] for p in parts]),
                "structures": torch.cat([p["structures"] for p in parts]), "synthetic": "mixed"}
