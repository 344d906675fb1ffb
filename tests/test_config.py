"""Config composition (compose API): groups, overlays, the strength preset and its precedence, range errors."""

import pytest
import torch
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf.errors import InterpolationResolutionError

from spine_synthseg.config import CONFIG_DIR, compose_config, to_dict
from spine_synthseg.errors import ConfigError
from spine_synthseg.models.schedules import WarmupDecay
from tests.helpers import compose_cfg

GENERATOR_GROUPS = ("spatial", "background", "contrast", "gamma", "artifact", "resolution")


@pytest.mark.parametrize("overrides,target", [
    (["experiment=model_a"], "SynthDataModule"),
    (["experiment=model_b"], "RealDataModule"),
    (["data=real", "trainer=ddp"], "RealDataModule"),
    (["experiment=model_a", "ablation=native_resolution"], "SynthDataModule"),
])
def test_groups_compose(tmp_path, overrides, target):
    cfg = compose_cfg(tmp_path, overrides)
    assert cfg.data._target_.endswith(target)
    assert cfg.data.source.root.endswith("spider_t2space")


@pytest.mark.parametrize("group,option", [(g, p.stem) for g in GENERATOR_GROUPS for p in sorted((CONFIG_DIR / g).glob("*.yaml"))
                                          if p.stem != "strength"])
def test_every_generator_preset_instantiates(tmp_path, group, option):
    generator = instantiate(compose_cfg(tmp_path, [f"{group}={option}"]).synth)
    assert generator.spacing_mm == 1.5


def test_artifact_presets_are_overlays_of_all(tmp_path):
    base = compose_cfg(tmp_path, []).synth
    no_bias = compose_cfg(tmp_path, ["artifact=no_bias"]).synth
    assert no_bias.bias.max_std == 0 and no_bias.bias.grid == base.bias.grid
    assert no_bias.noise == base.noise and no_bias.motion == base.motion


def test_experiment_overlay_names_runs(tmp_path):
    assert compose_cfg(tmp_path, ["experiment=model_b"]).run_name == "model_b"


def test_unknown_group_value_is_rejected(tmp_path):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(tmp_path, ["contrast=t3_like"])


def test_out_of_range_config_value_names_key(tmp_path):
    cfg = compose_cfg(tmp_path, ["synth.noise.max_std=2.0"])
    with pytest.raises(Exception) as info:
        instantiate(cfg.synth)
    assert "synth.noise.max_std=2.0 is out of range" in str(info.value)


def test_ablation_overlay_changes_one_group(tmp_path):
    base = compose_cfg(tmp_path, ["experiment=model_a"])
    ablated = compose_cfg(tmp_path, ["experiment=model_a", "ablation=single_background"])
    assert ablated.synth.background.mode == "single" and base.synth.background.mode == "distance_random"
    assert ablated.synth.contrast == base.synth.contrast and ablated.synth.noise == base.synth.noise


def test_strength_sets_every_range_in_the_composed_config(tmp_path):
    narrow = to_dict(compose_cfg(tmp_path, ["randomisation=strength", "strength=0"]).synth)
    wide = to_dict(compose_cfg(tmp_path, ["randomisation=strength", "strength=1"]).synth)
    assert narrow["contrast"]["uniform_mix"] == [0.0, 0.0] and wide["contrast"]["uniform_mix"] == [1.0, 1.0]
    assert narrow["resolution"]["prob"] == 0 and wide["resolution"]["max_iso_mm"] == pytest.approx(4.0)
    assert narrow["motion"]["prob"] == 0 and narrow["noise"]["max_std"] < wide["noise"]["max_std"]
    assert wide["gamma"]["gamma_std"] == pytest.approx(0.4) and narrow["spatial"] == wide["spatial"]
    generator = instantiate(compose_cfg(tmp_path, ["randomisation=strength", "strength=0"]).synth)
    assert not generator.image_stages[-1].enabled and generator.contrast.uniform_mix == (0.0, 0.0)


def test_explicit_preset_wins_over_strength(tmp_path):
    """Documented precedence (conf/randomisation/strength.yaml): a group chosen on the command line wins."""
    cfg = compose_cfg(tmp_path, ["randomisation=strength", "strength=0.5", "contrast=t1_like"])
    assert list(cfg.synth.contrast.t2_weight) == [0.0, 0.0] and list(cfg.synth.contrast.uniform_mix) == [0.0, 0.0]
    assert cfg.synth.gamma.gamma_std == pytest.approx(0.25)  # the other groups still follow the strength


def test_strength_errors(tmp_path):
    with pytest.raises(ConfigCompositionException):  # strength without its preset would be silently unused
        compose_cfg(tmp_path, ["strength=0.5"])
    cfg = compose_cfg(tmp_path, ["randomisation=strength", "strength=1.5"])
    with pytest.raises(InterpolationResolutionError, match=r"strength=1.5 is out of range \[0, 1\]"):
        to_dict(cfg.synth)


def test_default_config_is_the_frozen_reality_gap_configuration(tmp_path):
    """The defaults chosen on the validation patients (ANALYSIS_REPORT section 8): 2,000 bf16 steps with a
    warmup-stable-decay schedule, and synthetic images normalised with the real slices' percentiles."""
    cfg = compose_config([], output_dir=tmp_path)  # without the tests' fast overrides
    assert cfg.trainer.max_steps == 2000 and cfg.trainer.precision == "bf16-mixed"
    assert cfg.scheduler.decay == "wsd" and cfg.scheduler.total_steps == 2000
    assert list(cfg.synth.output_percentiles) == list(cfg.preprocess.percentiles) == [0.5, 99.5]


def test_warmup_cosine_schedule_values():
    f = WarmupDecay(warmup_steps=10, total_steps=110, decay="cosine")
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0) and f(10) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5) and f(110) == pytest.approx(0.0) and f(500) == pytest.approx(0.0)
    assert WarmupDecay(10, 110, "poly")(60) == pytest.approx(0.5 ** 0.9)
    wsd = WarmupDecay(10, 110, "wsd", decay_fraction=0.2)  # stable until 80 % of the post-warm-up steps
    assert wsd(10) == wsd(89) == 1.0 and wsd(100) == pytest.approx(0.5) and wsd(110) == 0.0
    with pytest.raises(ConfigError, match="scheduler.decay"):
        WarmupDecay(10, 110, "step")


def test_module_optimizer_and_scheduler_come_from_config(tmp_path):
    cfg = compose_cfg(tmp_path, ["scheduler=warmup_poly", "optimizer.lr=0.01"])
    module = instantiate(cfg.module, train_source="real", val_sets=["val_real"])
    conf = module.configure_optimizers()
    assert isinstance(conf["optimizer"], torch.optim.AdamW) and conf["optimizer"].defaults["lr"] == 0.01
    assert conf["lr_scheduler"]["scheduler"].lr_lambdas[0].decay == "poly"
    assert conf["lr_scheduler"]["scheduler"].lr_lambdas[0].total == cfg.trainer.max_steps
