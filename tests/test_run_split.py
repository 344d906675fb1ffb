"""The run owns its split: checkpoints store the patient split they were trained with, and evaluation scores them
on it, refusing a config split that differs, checkpoints of different test patients, and any leak."""

import logging
import subprocess
import sys

import pytest
import torch

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.run_split import config_split, run_split
from spine_synthseg.training.train import train
from tests.helpers import compose_cfg


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """A tiny Model B trained on the shipped sample (4 patients): its checkpoint and config."""
    out = tmp_path_factory.mktemp("sample_run")
    cfg = compose_cfg(out, ["source=sample", "experiment=model_b", "evaluate_after_fit=false"])
    metrics = train(cfg)
    return out / metrics["checkpoint"], cfg


def test_checkpoint_stores_its_split_and_seed(sample_run):
    ckpt, cfg = sample_run
    hp = torch.load(ckpt, map_location="cpu", weights_only=False)["hyper_parameters"]
    assert hp["splits"] == config_split(cfg) and hp["seed"] == 0
    assert hp["splits"]["source"] == "spider_t2space_sample"


def test_evaluate_with_another_split_seed_exits_2_naming_the_patients(sample_run, tmp_path):
    ckpt, cfg = sample_run
    owned = config_split(cfg)
    other = config_split(compose_cfg(tmp_path, ["source=sample", "split.seed=7"]))
    leaked = set(other["test"]) & (set(owned["train"]) | set(owned["val"]))
    assert leaked  # seed 7 puts a patient the run trained or validated on into the test set
    result = subprocess.run([sys.executable, "run.py", "mode=evaluate", "source=sample", "split.seed=7",
                             f"evaluation.checkpoints.model_b={ckpt}", f"hydra.run.dir={tmp_path / 'eval'}"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, encoding="utf-8", errors="replace")
    assert result.returncode == 2, result.stderr[-2000:]
    assert all(f"'{p}'" in result.stderr for p in leaked) and "drop the split overrides" in result.stderr
    assert not (tmp_path / "eval" / "metrics.csv").exists()


def test_checkpoints_with_different_test_patients_are_refused(sample_run, tmp_path):
    ckpt, cfg = sample_run
    owned = config_split(cfg)
    moved = {**owned, "test": owned["val"], "val": owned["test"]}
    with pytest.raises(DataError, match=r"checkpoints a and b were trained with different test patients"):
        run_split(cfg, {"a": owned, "b": moved})
    assert run_split(cfg, {"a": owned, "b": dict(owned)}) == owned
    with pytest.raises(DataError, match="trained on source spider_t2space_sample"):
        run_split(compose_cfg(tmp_path, []), {"a": owned})


def test_older_checkpoints_get_the_config_split_with_a_warning(sample_run, caplog):
    _, cfg = sample_run
    with caplog.at_level(logging.WARNING):
        assert run_split(cfg, {"old": None}) == config_split(cfg)
    assert "store no patient split" in caplog.text
