"""Compose-API helpers for tests: the project config with small, fast overrides."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from spine_synthseg.config import compose_config

FAST = ["budget=smoke", "evaluation.bootstrap_samples=50", "evaluation.resolution_mm=[3]", "evaluation.thick_slice_mm=[]",
        "evaluation.contrast_perturbations=[inversion]", "evaluation.n_overlays=1", "evaluation.max_patients=2", "threads=2"]


def compose_cfg(out_dir: Path, overrides: list[str] = ()) -> DictConfig:
    """The composed config with the FAST overrides and the run folder set to out_dir."""
    return compose_config([*FAST, *overrides], output_dir=out_dir)
