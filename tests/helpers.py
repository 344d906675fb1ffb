"""Compose-API helpers for tests: the project config with small, fast overrides."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

from spine_synthseg.config import CONFIG_DIR

FAST = ["trainer=smoke", "evaluation.bootstrap_samples=50", "evaluation.resolution_mm=[3]",
        "evaluation.contrast_perturbations=[inversion]", "evaluation.n_overlays=1", "threads=2"]


def compose_cfg(out_dir: Path, overrides: list[str] = ()) -> DictConfig:
    """The composed config with the run folder set to out_dir (no Hydra run, so hydra:runtime is unavailable)."""
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*FAST, *overrides], return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out_dir)
        if OmegaConf.is_interpolation(cfg, "run_name"):  # ${hydra:...} needs a Hydra run
            cfg.run_name = cfg.hydra.runtime.choices.data
        del cfg["hydra"]
    return cfg
