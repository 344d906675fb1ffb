"""Hydra/OmegaConf helpers: resolvers, the config folder, composing the project config, plain dicts.

Resolvers (registered on import):
  ``${project_root:}``          the checkout's root folder.
  ``${strength_lerp:a,b,s}``    a + s (b - a) for the one-knob randomisation width s = strength in [0, 1]
                                (conf/randomisation/strength.yaml).
  ``${cpu_precision:}``         bf16-mixed where the CPU computes bfloat16 natively, else 32-true (hardware.py).
  ``${join:a,b,...}``           the non-empty parts joined by "_" (run folder names).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from spine_synthseg.errors import ConfigError
from spine_synthseg.hardware import native_bf16

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = Path(__file__).resolve().parent / "conf"  # inside the package, so a built wheel has it (conf/ links here)


def strength_lerp(lo: float, hi: float, strength: float) -> float:
    """lo + strength * (hi - lo); strength must lie in [0, 1]."""
    if strength is None or not 0.0 <= float(strength) <= 1.0:
        raise ConfigError(f"strength={strength} is out of range [0, 1].")
    return float(lo) + float(strength) * (float(hi) - float(lo))


if not OmegaConf.has_resolver("project_root"):
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT))
if not OmegaConf.has_resolver("strength_lerp"):
    OmegaConf.register_new_resolver("strength_lerp", strength_lerp)
if not OmegaConf.has_resolver("join"):
    OmegaConf.register_new_resolver("join", lambda *parts: "_".join(str(p) for p in parts if p not in (None, "")))
if not OmegaConf.has_resolver("cpu_precision"):
    OmegaConf.register_new_resolver("cpu_precision", lambda: "bf16-mixed" if native_bf16() else "32-true")


def to_dict(cfg: DictConfig | dict | None) -> dict:
    """A resolved plain dict of a config node (empty for None)."""
    if cfg is None:
        return {}
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def compose_config(overrides: Sequence[str] = (), output_dir: str | Path | None = None) -> DictConfig:
    """The project config as ``run.py`` would compose it, outside a Hydra run (scripts, tests, notebooks).

    output_dir: the run folder (``paths.output_dir``); ``hydra:`` interpolations are resolved here and the
    ``hydra`` node is dropped.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = str(output_dir if output_dir is not None else PROJECT_ROOT / "outputs" / "composed")
        if OmegaConf.is_interpolation(cfg, "run_name"):  # ${hydra:...} needs a Hydra run
            cfg.run_name = cfg.hydra.runtime.choices.data
        cfg.choices = {k: v for k, v in cfg.hydra.runtime.choices.items() if not k.startswith("hydra/")}
        del cfg["hydra"]
    return cfg


TRAINING_KEYS = ("budget", "data", "model", "module", "monitor", "optimizer", "preprocess", "scheduler", "seed",
                 "source", "split", "synth", "trainer", "choices")
NOT_TRAINING = ("root", "cache_dir", "output_dir", "precision", "progress_bar", "enable_progress_bar", "experiment")


def training_config(cfg: DictConfig | dict) -> dict:
    """The part of a config (composed, or a run's config_resolved.yaml) that decides what a run trains: data,
    generator, network, optimiser, budget, split, seed and each group's choice; without paths, the precision
    (chosen by the CPU's bf16 support), progress bars and the experiment file's name. Two commands train the same
    model when their training_config is equal."""

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in NOT_TRAINING}
        return [strip(v) for v in node] if isinstance(node, list) else node

    plain = to_dict(cfg) if isinstance(cfg, DictConfig) else dict(cfg)
    return strip({k: plain[k] for k in TRAINING_KEYS if k in plain})
