"""mode=train: fit the configured model, then (``evaluate_after_fit``) run the robustness suite on its checkpoint;
the one writer of the run's metrics.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

from omegaconf import DictConfig

from spine_synthseg.evaluation.evaluate import evaluate_checkpoints
from spine_synthseg.training.train import train


def train_and_evaluate(cfg: DictConfig) -> dict:
    """The run's metrics, written once to metrics.json, with the test summary under "test" when evaluated."""
    metrics = train(cfg)
    out = Path(cfg.paths.output_dir)
    if cfg.evaluate_after_fit:
        start = time.perf_counter()
        metrics["test"] = evaluate_checkpoints(cfg, {str(cfg.run_name): out / metrics["checkpoint"]}, out / "evaluation")
        metrics["stage_seconds"]["evaluate"] = round(time.perf_counter() - start, 1)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
