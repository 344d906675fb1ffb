"""Shared fixtures: the real shared data (never copied), small data written by the tests, and ONE pair of
smoke-trained checkpoints (Model A and Model B) for every test that needs a trained model."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.apps.train_evaluate import train_and_evaluate
from tests.helpers import compose_cfg

DATA_ROOT = Path(os.environ.get("SPINE_SYNTHSEG_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    """../shared/data; missing: skipped with a message locally, a failure under CI=true."""
    if not (DATA_ROOT / "spider_t2space" / "dataset.json").is_file():
        message = f"Shared data not found at {DATA_ROOT}: put ../shared/data beside the checkout or set SPINE_SYNTHSEG_DATA."
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DATA_ROOT


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory, data_root) -> dict[str, dict]:
    """Model A and Model B trained once for the whole session (budget=smoke): {name: {"dir", "ckpt", "metrics"}}."""
    runs = {}
    for name in ("model_a", "model_b"):
        out = tmp_path_factory.mktemp(name)
        metrics = train_and_evaluate(compose_cfg(out, [f"experiment={name}", "evaluate_after_fit=false"]))
        runs[name] = {"dir": out, "ckpt": out / metrics["checkpoint"], "metrics": metrics}
    return runs


def write_png_folder(root: Path, n_patients: int = 3, slices: int = 2, size=(64, 48), spacing=1.0) -> Path:
    """A tiny dataset.json folder: a vertebra, a disc and a canal per slice, T2-SPACE style label values."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for p in range(n_patients):
        for s in range(slices):
            mask = np.zeros(size, dtype=np.uint8)
            mask[10:25, 10:30] = 76
            mask[26:30, 10:30] = 29
            mask[5:60, 32:38] = 150
            image = (rng.random(size) * 50 + (mask > 0) * 150).astype(np.uint8)
            Image.fromarray(image).save(root / "images" / f"{100 + p}_t2_SPACE_slice{s}.png")
            Image.fromarray(mask).save(root / "masks" / f"{100 + p}_t2_SPACE_slice{s}.png")
    meta = {"label_values": {"0": "background", "76": "vertebra", "29": "intervertebral_disc", "150": "spinal_canal"},
            "pixel_spacing_mm": spacing}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


@pytest.fixture()
def png_folder(tmp_path: Path) -> Path:
    return write_png_folder(tmp_path / "tiny")
