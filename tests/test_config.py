import pytest
from hydra.errors import ConfigCompositionException

from spine_synthseg.synthesis import SpineSynthGenerator
from spine_synthseg.synthesis.sampling import ConfigError
from tests.helpers import compose_cfg


@pytest.mark.parametrize("overrides,target", [
    (["experiment=model_a"], "SynthDataModule"),
    (["experiment=model_b"], "RealDataModule"),
    (["data=real", "trainer=ddp"], "RealDataModule"),
    (["contrast=t1_like", "artifact=none", "resolution=native", "background=real_clusters"], "SynthDataModule"),
    (["experiment=model_a", "ablation=native_resolution"], "SynthDataModule"),
])
def test_groups_compose(tmp_path, overrides, target):
    cfg = compose_cfg(tmp_path, overrides)
    assert cfg.data._target_.endswith(target)
    assert cfg.data.source.root.endswith("spider_t2space")
    SpineSynthGenerator({**cfg.synth, "spacing_mm": cfg.preprocess.spacing_mm, "size": cfg.preprocess.size})


def test_experiment_overlay_names_runs(tmp_path):
    assert compose_cfg(tmp_path, ["experiment=model_b"]).run_name == "model_b"


def test_unknown_group_value_is_rejected(tmp_path):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(tmp_path, ["contrast=t3_like"])


def test_out_of_range_config_value_names_key(tmp_path):
    cfg = compose_cfg(tmp_path, ["synth.artifact.noise_std=2.0"])
    with pytest.raises(ConfigError, match="synth.artifact.noise_std"):
        SpineSynthGenerator(dict(cfg.synth))


def test_ablation_overlay_changes_one_group(tmp_path):
    base = compose_cfg(tmp_path, ["experiment=model_a"])
    ablated = compose_cfg(tmp_path, ["experiment=model_a", "ablation=single_background"])
    assert ablated.synth.background.mode == "single" and base.synth.background.mode == "distance_random"
    assert ablated.synth.contrast == base.synth.contrast and ablated.synth.artifact == base.synth.artifact
