"""Config composition (compose API): groups, overlays, the strength preset and its precedence, range errors."""

import pytest
import torch
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf.errors import InterpolationResolutionError

from spine_synthseg.config import CONFIG_DIR, PROJECT_ROOT, compose_config, to_dict, training_config
from spine_synthseg.errors import ConfigError
from spine_synthseg.models.schedules import WarmupDecay
from tests.helpers import compose_cfg

GENERATOR_GROUPS = ("spatial", "background", "distractors", "contrast", "subregions", "gamma", "artifact", "resolution")


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
    extra = ["preprocess.n_tissue=12"] if (group, option) == ("background", "tissue") else []  # its tissue classes
    generator = instantiate(compose_cfg(tmp_path, [f"{group}={option}", *extra]).synth)
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
    """The defaults chosen on the validation patients (docs/lab_notebook.md section 8): 2,000 steps with a
    warmup-stable-decay schedule, and synthetic images normalised with the real slices' percentiles; precision by
    what the CPU has (bf16-mixed where it computes bf16 natively, else fp32)."""
    from spine_synthseg.hardware import native_bf16

    cfg = compose_config([], output_dir=tmp_path)  # without the tests' fast overrides
    assert cfg.trainer.max_steps == 2000 and cfg.choices["budget"] == "default" and cfg.choices["trainer"] == "cpu"
    assert cfg.trainer.precision == ("bf16-mixed" if native_bf16() else "32-true")
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


EXPERIMENTS = sorted(str(p.relative_to(CONFIG_DIR / "experiment"))[:-5] for p in (CONFIG_DIR / "experiment").rglob("*.yaml"))
FROZEN = ("volume_freeze",)  # a freeze's model files name their runs as the catalogue's models (model_a, ...)


def expected_run_name(name: str) -> str:
    folder, _, stem = name.rpartition("/")
    return stem if folder in FROZEN and stem.startswith("model_") else name.replace("/", "_")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_composes_and_names_its_run(tmp_path, name):
    from omegaconf import OmegaConf

    cfg = compose_config([f"experiment={name}"], output_dir=tmp_path)
    OmegaConf.resolve(cfg)  # every interpolation resolves
    assert cfg.run_name == expected_run_name(name) and cfg.choices["experiment"] == name  # distinct as the file names
    assert cfg.trainer.max_steps == cfg.budget.max_steps > 0
    instantiate(cfg.synth)  # the generator of every experiment builds (range checks pass)


def test_budget_is_separate_from_the_device(tmp_path):
    cfg = compose_config(["trainer=ddp", "budget=short"], output_dir=tmp_path)
    assert (cfg.trainer.strategy, cfg.trainer.max_steps, cfg.trainer.val_check_interval) == ("ddp", 800, 200)
    smoke = compose_config(["budget=smoke"], output_dir=tmp_path)
    assert smoke.trainer.max_steps == 3 and smoke.trainer.limit_val_batches == 2 and not smoke.trainer.enable_progress_bar
    clusters = compose_config(["preprocess.n_clusters=6", "background=real_clusters", "subregions=real_clusters"],
                              output_dir=tmp_path)
    assert clusters.synth.background.n_clusters == clusters.synth.subregions.n_clusters == 6  # one key, interpolated


# contexts (group choices) under which a key exists: e.g. strength only with randomisation=strength
CONTEXTS = ([], ["randomisation=strength"], ["data=real_aug"], ["data=mixed"], ["trainer=ddp"])
ROOTS = ("data|source|preprocess|split|synth|trainer|budget|evaluation|model|optimizer|scheduler|predict|paths|"
         "module|callbacks|logger|strength|inference_mode|optimized_metric")


def named_keys() -> dict[str, set[str]]:
    """Config keys named in the package's error messages (raise statements and check_* range checks) and in the
    comments of conf/: {key: files}."""
    import ast
    import re

    from spine_synthseg.config import PROJECT_ROOT

    pattern = re.compile(rf"(?<![\w.`/])(?:{ROOTS})(?:\.[A-Za-z_*][\w*]*)+")
    found: dict[str, set[str]] = {}

    def add(text: str, where: str) -> None:
        for key in pattern.findall(text):
            found.setdefault(key.rstrip("."), set()).add(where)

    for path in [*(PROJECT_ROOT / "spine_synthseg").rglob("*.py"), PROJECT_ROOT / "run.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and node.exc is not None:
                parts = [n.value for n in ast.walk(node.exc) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "").startswith("check_") and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                parts = [node.args[0].value]
            else:
                continue
            for text in parts:
                add(text, path.name)
    for path in CONFIG_DIR.rglob("*.yaml"):
        for line in path.read_text().splitlines():
            if "#" in line:
                add(line.split("#", 1)[1], str(path.relative_to(CONFIG_DIR)))
    return found


def test_the_key_scan_finds_messages_and_comments():
    keys = named_keys()
    assert {"split.fractions", "synth.noise.max_std", "source.root", "evaluation.checkpoints.NAME"} <= set(keys)
    assert len(keys) > 40


@pytest.fixture(scope="module")
def contexts(tmp_path_factory) -> list:
    """The config composed once per context, unresolved (interpolations kept)."""
    out = tmp_path_factory.mktemp("contexts")
    return [compose_config(list(c), output_dir=out) for c in CONTEXTS]


def overridable(cfg, key: str) -> bool:
    """What Hydra's `KEY=value` needs: every node on the path exists, and none before the last is an
    interpolation (`data.source.root` is not overridable: `data.source` is `${source}`)."""
    from omegaconf import DictConfig, OmegaConf

    node = cfg
    for i, part in enumerate(key.split(".")):
        if not isinstance(node, DictConfig) or part not in node:
            return False
        if i < len(key.split(".")) - 1 and OmegaConf.is_interpolation(node, part):
            return False
        node = node._get_node(part)
    return True


def test_overridable_agrees_with_hydra(tmp_path, contexts):
    for key, ok in (("source.root", True), ("data.source.root", False), ("synth.noise.max_std", True),
                    ("strength", False), ("synth.strength", False)):
        assert overridable(contexts[0], key) == ok, key
        if ok:
            compose_config([f"{key}=null"], output_dir=tmp_path)
        else:
            with pytest.raises(ConfigCompositionException):
                compose_config([f"{key}=null"], output_dir=tmp_path)


@pytest.mark.parametrize("key", sorted(named_keys()))
def test_every_key_named_in_a_message_or_comment_can_be_overridden(key, contexts):
    """A key an error message or a config comment tells the user to set must exist and be overridable in some
    context (strength: with randomisation=strength). A placeholder (NAME, *) stands for any child: the node before
    it must be a mapping."""
    from omegaconf import DictConfig, OmegaConf

    parts = key.split(".")
    holder = next((i for i, p in enumerate(parts) if p.isupper() or p == "*"), None)
    if holder is not None:
        assert any(isinstance(OmegaConf.select(c, ".".join(parts[:holder])), DictConfig) for c in contexts), key
    else:
        assert any(overridable(c, key) for c in contexts), f"{key}, named in {sorted(named_keys()[key])}"


def test_data_synth_is_the_volume_freezes_model_a_and_experiment_model_a_the_earlier_one():
    """The recipe data=synth adds (conf/recipe/model_a.yaml) is the frozen Model A's (entry 5) and nothing else;
    experiment=model_a, the base of the screens, composes the generator without it."""
    main = compose_config(["data=synth"])
    assert training_config(main) == training_config(compose_config(["experiment=volume_freeze/model_a"]))
    earlier = compose_config(["experiment=model_a"])
    assert (main.choices.background, earlier.choices.background) == ("tissue", "distance_random")
    assert (main.data.negatives.rate, earlier.data.negatives.rate) == (0.1, 0.0)
    assert (main.preprocess.n_tissue, earlier.preprocess.n_tissue) == (12, 0)


def test_the_main_job_trains_the_shipped_model_a():
    """`python run.py data=synth` (the README's main job) composes what trained models/model_a.ckpt (the config
    stored in it by ship_models), and so does the command on its card; the earlier Model A differs."""
    import re

    stored = training_config(torch.load(PROJECT_ROOT / "models" / "model_a.ckpt", map_location="cpu",
                                        weights_only=False)["config"])
    assert training_config(compose_config(["data=synth"])) == stored
    card = (PROJECT_ROOT / "models" / "model_a.md").read_text()
    command = re.search(r"`python run.py (experiment=\S+ seed=\d+)`", card).group(1)
    assert training_config(compose_config(command.split())) == stored
    assert "the same training as `python run.py data=synth`" in card
    assert training_config(compose_config(["experiment=model_a"])) != stored
