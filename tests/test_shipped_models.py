"""The trained models shipped in models/ load and segment a real slice (the shipped sample), so a refactor cannot
silently break them."""

from pathlib import Path

import numpy as np
import pytest

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.data.png_folder import read_png_folder
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import segment_slice
from spine_synthseg.structures import VERTEBRA

SAMPLE = PROJECT_ROOT / "spine_synthseg" / "sample_data" / "spider_t2space_sample"


@pytest.fixture(scope="module")
def sample_slice():
    records, _ = read_png_folder(SAMPLE, "t2_SPACE")
    return records[0]


@pytest.mark.parametrize("name", ["model_a", "model_b", "model_b_aug", "model_c"])
def test_shipped_model_segments_a_slice(name, sample_slice):
    path = PROJECT_ROOT / "models" / f"{name}.ckpt"
    assert path.is_file() and (path.with_suffix(".md")).is_file(), f"{path} or its model card is missing"
    model = load_checkpoint(path)
    pred = segment_slice(model, sample_slice.image, sample_slice.spacing_mm, model.hparams.inference_mode)
    assert pred.shape == sample_slice.structures.shape and set(np.unique(pred)) <= {0, 1, 2, 3}
    truth = sample_slice.structures == VERTEBRA
    dice = 2 * ((pred == VERTEBRA) & truth).sum() / ((pred == VERTEBRA).sum() + truth.sum())
    assert dice > 0.5, f"{name}: vertebra Dice {dice:.2f} on a training-patient sample slice"


@pytest.mark.parametrize("name", ["model_a", "model_b", "model_b_aug", "model_c"])
def test_shipped_model_knows_its_inference_mode(name):
    """predict segments with the mode the model was validated and selected with, saved in the checkpoint."""
    import torch
    saved = torch.load(PROJECT_ROOT / "models" / f"{name}.ckpt", map_location="cpu", weights_only=False)
    from spine_synthseg.config import compose_config
    assert saved["hyper_parameters"]["inference_mode"] == compose_config().inference_mode
