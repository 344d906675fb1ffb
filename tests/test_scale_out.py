"""Multi-device training (Lightning DDP, 2 CPU processes over gloo) and per-rank synthetic sampling."""

import json
import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate

from spine_synthseg.config import PROJECT_ROOT
from tests.helpers import compose_cfg


def test_each_rank_draws_different_samples(tmp_path, data_root):
    cfg = compose_cfg(tmp_path, ["experiment=model_a"])
    draws = []
    for rank in (0, 1):
        dm = instantiate(cfg.data, _convert_="all")
        dm.trainer = SimpleNamespace(global_rank=rank, training=True)
        dm.setup("fit")
        batch = {k: v[:2] for k, v in next(iter(dm.train_dataloader())).items()}
        draws.append(dm.on_after_batch_transfer(batch, 0)["image"])
    assert not torch.equal(draws[0], draws[1])


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path, data_root):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "run.py", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "budget=smoke",
           "budget.max_steps=2", "budget.val_check_interval=2", "source=sample", "evaluate_after_fit=false", "threads=1",
           f"hydra.run.dir={out}"]
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
                            encoding="utf-8", errors="replace")
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["max_steps"] == 2 and "val_real/dice_mean" in metrics["validation"]
