"""SpineSynthGenerator: YAML-only defaults, determinism, stage identities, stage effects, range errors, contrast ordering,
resolution physics, and that only label maps are ever read."""

import inspect

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from spine_synthseg.data.datasets import LabelMapDataset, stack_label_maps
from spine_synthseg.data.preprocess import PreprocessConfig, preprocess_records
from spine_synthseg.data.png_folder import read_png_folder
from spine_synthseg.structures import CANAL, DISC, VERTEBRA
from spine_synthseg.errors import ConfigError
from spine_synthseg.synthesis import SpineSynthGenerator
from spine_synthseg.synthesis.background import BackgroundPartition
from spine_synthseg.synthesis.bias import RandomBiasField
from spine_synthseg.synthesis.gamma import RandomGamma, minmax
from spine_synthseg.synthesis.generator import STAGES
from spine_synthseg.synthesis.motion import MotionParams, RandomMotion
from spine_synthseg.synthesis.noise import NoiseParams, RandomNoise
from spine_synthseg.synthesis.resolution import RandomResolution, degrade_resolution
from spine_synthseg.synthesis.spatial import RandomSpatial, SpatialParams
from spine_synthseg.synthesis.stage import Stage

SIZE = (64, 48)
OFF = {"bias": {"max_std": 0.0}, "noise": {"max_std": 0.0}, "motion": {"prob": 0.0}, "resolution": {"prob": 0.0},
       "gamma": {"gamma_std": 0.0}, "spatial": {"rotation_deg": 0, "scaling": 0, "shear": 0, "translation": 0,
                                               "elastic_std_mm": 0}}


@pytest.fixture(scope="module")
def labels(tmp_path_factory):
    from tests.conftest import write_png_folder

    root = write_png_folder(tmp_path_factory.mktemp("g") / "tiny")
    records, _ = read_png_folder(root, "t2_SPACE")
    slices = preprocess_records(records, PreprocessConfig(spacing_mm=1.0, size=SIZE, percentiles=(0.5, 99.5)))
    return stack_label_maps(slices)


def gen(**overrides):
    """A generator at 1 mm from {stage: constructor arguments}; stages left out take their class defaults."""
    stages = {}
    for name, args in overrides.items():
        if name == "output_percentiles":
            continue
        cls, args = STAGES[name], dict(args)
        if "spacing_mm" in inspect.signature(cls).parameters:
            args.setdefault("spacing_mm", 1.0)
        stages[name] = cls(**args)
    return SpineSynthGenerator(**stages, spacing_mm=1.0, output_percentiles=overrides.get("output_percentiles"))


def image():
    return torch.rand(4, 1, *SIZE, generator=torch.Generator().manual_seed(3)) * 0.8 + 0.1


def test_same_seed_same_image(labels):
    g = gen()
    a = g.generate_batch(labels, torch.Generator().manual_seed(7))
    b = g.generate_batch(labels, torch.Generator().manual_seed(7))
    c = g.generate_batch(labels, torch.Generator().manual_seed(8))
    assert torch.equal(a.image, b.image) and torch.equal(a.structures, b.structures)
    assert not torch.equal(a.image, c.image)
    assert a.image.shape == (6, 1, *SIZE) and 0 <= a.image.min() and a.image.max() <= 1


def test_single_label_map_api():
    label_map = np.zeros(SIZE, np.int64)
    label_map[10:20, 5:20], label_map[21:24, 5:20], label_map[:, 25:30] = VERTEBRA, DISC, CANAL
    g = gen()
    one = g.generate_synthetic_mri(label_map, torch.Generator().manual_seed(0))
    assert one.shape == SIZE and torch.equal(one, g.generate_synthetic_mri(label_map, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="values must be 0-3"):
        g.generate_synthetic_mri(label_map * 40)


def test_disabled_stages_are_identity():
    x = image()
    spatial = RandomSpatial(spacing_mm=1.0)
    zero = SpatialParams(theta=torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]]]).repeat(4, 1, 1), displacement=torch.zeros(4, 2, 5, 5))
    lab = torch.randint(0, 4, (4, 1, *SIZE))
    assert torch.equal(spatial.apply(zero, lab), lab)
    assert torch.allclose(RandomBiasField.apply(torch.zeros(4, 1, 4, 4), x), x)
    assert torch.allclose(RandomGamma.apply(torch.ones(4, 1, 1, 1), x), minmax(x))
    no_noise = NoiseParams(std=torch.zeros(4, 1, 1, 1), rician=torch.zeros(4, 1, 1, 1, dtype=torch.bool))
    assert torch.equal(RandomNoise.apply(no_noise, x), x)
    still = MotionParams(torch.zeros(4, SIZE[0], 2), torch.zeros(4, SIZE[1], 2), torch.ones(4, dtype=torch.bool),
                         torch.ones(4, dtype=torch.bool))
    assert torch.allclose(RandomMotion.apply(still, x), x, atol=1e-5)
    native = {"spacing_mm": torch.ones(4, 2), "blur_jitter": torch.ones(4, 2)}
    assert torch.allclose(RandomResolution(spacing_mm=1.0, lowres_noise_std=0.0).apply(native, x), x, atol=1e-5)
    assert not RandomSpatial(0, 0, 0, 0, 0, spacing_mm=1.0).enabled
    assert not any(s.enabled for s in (RandomBiasField(max_std=0), RandomNoise(max_std=0), RandomMotion(prob=0, spacing_mm=1.0),
                                       RandomResolution(prob=0, spacing_mm=1.0)))


def test_each_stage_changes_the_image(labels):
    base = gen(**OFF).generate_batch(labels, torch.Generator().manual_seed(1)).image
    changes = {
        "spatial": {**OFF, "spatial": {}},
        "bias": {**OFF, "bias": {"max_std": 0.8}},
        "gamma": {**OFF, "gamma": {"gamma_std": 0.5}},
        "noise": {**OFF, "noise": {"max_std": 0.2}},
        "motion": {**OFF, "motion": {"prob": 1.0, "max_shift_mm": 8}},
        "resolution": {**OFF, "resolution": {"prob": 1.0}},
    }
    for name, cfg in changes.items():
        out = gen(**cfg).generate_batch(labels, torch.Generator().manual_seed(1)).image
        assert (out - base).abs().mean() > 1e-3, name


@pytest.mark.parametrize("cfg,key", [
    ({"spatial": {"rotation_deg": 90}}, "synth.spatial.rotation_deg"),
    ({"contrast": {"t2_weight": [0.8, 0.2]}}, "synth.contrast.t2_weight"),
    ({"noise": {"max_std": -0.1}}, "synth.noise.max_std"),
    ({"motion": {"prob": 2}}, "synth.motion.prob"),
    ({"bias": {"grid": 40}}, "synth.bias.grid"),
    ({"resolution": {"max_iso_mm": 0.5}}, "synth.resolution.max_iso_mm"),
    ({"background": {"mode": "sky"}}, "synth.background.mode"),
    ({"gamma": {"gamma_std": 3}}, "synth.gamma.gamma_std"),
])
def test_bad_ranges_raise(cfg, key):
    with pytest.raises(ConfigError, match=key):
        gen(**cfg)


def _tissue_means(preset: dict, labels) -> dict[int, float]:
    g = gen(**{**OFF, "contrast": preset, "background": {"mode": "single"}})
    sums = {c: [] for c in (VERTEBRA, DISC, CANAL)}
    for seed in range(40):
        out = g.generate_batch(labels, torch.Generator().manual_seed(seed))
        for c in sums:
            sums[c].append(out.image[:, 0][out.structures == c].mean().item())
    return {c: float(np.mean(v)) for c, v in sums.items()}


def test_contrast_presets_order_tissues(labels):
    t2 = _tissue_means({"t2_weight": [1, 1], "uniform_mix": [0, 0]}, labels)
    t1 = _tissue_means({"t2_weight": [0, 0], "uniform_mix": [0, 0]}, labels)
    assert t2[CANAL] > t2[DISC] > t2[VERTEBRA]  # T2: CSF bright, healthy disc bright, marrow intermediate
    assert t1[VERTEBRA] > t1[DISC] > t1[CANAL]  # T1: fatty marrow bright, CSF dark


def test_resolution_reduces_high_frequencies_with_spacing():
    x = torch.rand(1, 1, 96, 96, generator=torch.Generator().manual_seed(0))

    def high_freq_fraction(y):
        power = torch.fft.fft2(y[0, 0]).abs() ** 2
        f = torch.fft.fftfreq(96).abs()
        mask = (f.view(-1, 1) > 0.1) | (f.view(1, -1) > 0.1)
        return (power[mask].sum() / power.sum()).item()

    energies = [high_freq_fraction(degrade_resolution(x, torch.tensor([[mm, mm]]), 1.0)) for mm in (1, 2, 3, 4)]
    assert energies[0] == pytest.approx(high_freq_fraction(x), rel=1e-3)
    assert all(a > b for a, b in zip(energies, energies[1:]))
    # the blur sigma scales with the spacing ratio: the cut-off frequency falls roughly as 1 / spacing
    assert energies[3] < 0.2 * energies[1]


def test_generator_never_sees_real_images(labels):
    with pytest.raises(RuntimeError, match="only see label maps"):
        gen().generate_batch({**labels, "image": torch.zeros(6, 1, *SIZE)})


def test_label_map_dataset_holds_no_image(tmp_path):
    from tests.conftest import write_png_folder

    records, _ = read_png_folder(write_png_folder(tmp_path / "t"), "t2_SPACE")
    ds = LabelMapDataset(preprocess_records(records, PreprocessConfig(spacing_mm=1.0, size=SIZE, percentiles=(0.5, 99.5))))
    assert not hasattr(ds, "image") and "image" not in ds[0]


def test_background_regions_modes(labels):
    for mode, n in (("single", 1), ("distance", 5), ("random", 3), ("distance_random", 15), ("real_clusters", 4)):
        part = BackgroundPartition(mode=mode, n_random=3, spacing_mm=1.5)
        rng = torch.Generator().manual_seed(0)
        params = part.sample(labels["structures"].shape[0], SIZE, rng, "cpu")
        regions = part.apply(params, labels)
        assert part.n_regions == n and regions.max() < n and regions.shape == labels["structures"].shape
        drew = not torch.equal(rng.get_state(), torch.Generator().manual_seed(0).get_state())
        assert drew == (mode in ("random", "distance_random"))  # only the random modes draw


def test_every_stage_follows_the_protocol():
    g = gen()
    stages = [g.spatial, g.background, g.absence, g.distractors, g.contrast, g.subregions, *g.image_stages]
    assert [type(s) for s in stages] == list(STAGES.values())  # SynthSeg's order
    assert all(isinstance(s, Stage) for s in stages)


def test_disabled_stage_draws_nothing(labels):
    """Turning a stage off must not shift the random stream of the stages after it (no hidden draws)."""
    off = gen(**OFF)
    rng = torch.Generator().manual_seed(5)
    off.generate_batch(labels, rng)
    after_off = torch.rand(1, generator=rng)
    expected = torch.Generator().manual_seed(5)
    size, b = SIZE, labels["structures"].shape[0]
    off.background.sample(b, size, expected, "cpu")  # distance_random: one coarse field
    off.contrast.sample(b, size, expected, "cpu")
    torch.randn((b, *SIZE), generator=expected)  # GMM pixel noise
    off.image_stages[1].sample(b, size, expected, "cpu")  # gamma: always on (normalisation)
    assert torch.equal(after_off, torch.rand(1, generator=expected))


def test_subregions_split_structures_by_depth_and_keep_labels():
    """A 9 x 9 vertebra square: a rim of 1 px (1.5 mm at 1.5 mm) gets the rim factor, the 7 x 7 inside keeps its
    intensity; disc / canal cores get theirs; background and labels are untouched."""
    from spine_synthseg.synthesis.subregions import StructureSubregions, SubregionParams
    s = torch.zeros(1, 20, 20, dtype=torch.long)
    s[0, 2:11, 2:11], s[0, 12:19, 2:11], s[0, 2:19, 13:18] = 1, 2, 3
    image = torch.full((1, 1, 20, 20), 0.5)
    stage = StructureSubregions(prob=1.0, spacing_mm=1.5)
    params = SubregionParams(torch.tensor([[1.0, 1.0, 1.0]]), torch.tensor([[0.2, 1.5, 0.4]]), torch.zeros(1, 1, 6, 6))
    out = stage.apply(params, (image, s, torch.zeros_like(s)))[0, 0]
    vertebra = out[2:11, 2:11]
    assert torch.allclose(vertebra[1:-1, 1:-1], torch.tensor(0.5)) and torch.allclose(vertebra[0], torch.tensor(0.1))
    assert torch.isclose(out[15, 6], torch.tensor(0.75)) and torch.isclose(out[12, 6], torch.tensor(0.5))
    assert torch.isclose(out[10, 15], torch.tensor(0.2)) and torch.isclose(out[10, 13], torch.tensor(0.5))
    assert torch.equal(out[s[0] == 0], image[0, 0][s[0] == 0])


def test_subregions_real_clusters_scale_each_cluster_of_each_class():
    """mode=real_clusters: cluster j of class c gets factor f[c, j]; background untouched; an index beyond
    n_clusters is an error naming the setting."""
    from spine_synthseg.errors import ConfigError
    from spine_synthseg.synthesis.subregions import StructureSubregions, SubregionParams
    s = torch.tensor([[[0, 1, 1, 2], [2, 3, 3, 0]]])
    clusters = torch.tensor([[[1, 0, 1, 1], [0, 0, 1, 1]]])
    stage = StructureSubregions(mode="real_clusters", prob=1.0, n_clusters=2, spacing_mm=1.5)
    factors = torch.tensor([[[0.5, 1.5], [0.8, 1.2], [0.3, 1.9]]])  # (B, class, cluster)
    params = SubregionParams(torch.ones(1, 3), factors, torch.zeros(1, 1, 6, 6))
    out = stage.apply(params, (torch.ones(1, 1, 2, 4), s, clusters))[0, 0]
    assert torch.allclose(out, torch.tensor([[1.0, 0.5, 1.5, 1.2], [0.8, 0.3, 1.9, 1.0]]))
    drawn = stage.sample(2, (2, 4), torch.Generator().manual_seed(0))
    assert drawn.factors.shape == (2, 3, 2) and ((drawn.factors >= 0.5) & (drawn.factors <= 1.5)).all()
    with pytest.raises(ConfigError, match="synth.subregions.n_clusters"):
        stage.apply(params, (torch.ones(1, 1, 2, 4), s, clusters + 1))
    with pytest.raises(ConfigError, match="synth.subregions.mode"):
        StructureSubregions(mode="kmeans", spacing_mm=1.5)


def test_intensity_clusters_are_per_class_and_ordered_by_mean():
    """Each class is clustered on its own intensities: two clear levels inside the vertebra give clusters 0 (dark)
    and 1 (bright) there, whatever the background holds."""
    from spine_synthseg.labels import intensity_clusters
    s = np.zeros((4, 6), np.uint8)
    s[:, 3:] = 1
    image = np.array([[0.9, 0.9, 0.1, 0.2, 0.2, 0.8]] * 4)
    c = intensity_clusters(image, s, k=2)
    assert (c[:, 3:5] == 0).all() and (c[:, 5] == 1).all()
    assert (c[:, 2] == 0).all() and (c[:, :2] == 1).all()


def test_subregions_validate_ranges():
    from spine_synthseg.errors import ConfigError
    from spine_synthseg.synthesis.subregions import StructureSubregions
    with pytest.raises(ConfigError, match="synth.subregions.vertebra_rim_factor"):
        StructureSubregions(vertebra_rim_factor=(0.9, 0.3), spacing_mm=1.5)
    with pytest.raises(ConfigError, match="synth.subregions.prob"):
        StructureSubregions(prob=1.5, spacing_mm=1.5)


def test_output_percentiles_normalise_as_real_slices(labels):
    """Normalisation parity: with output_percentiles the 0.5 / 99.5 percentiles of each image map to 0 / 1
    (clipped), as preprocessing does to real slices; without it (the class default) min-max."""
    rng = torch.Generator().manual_seed(2)
    default = gen().generate_batch(labels, torch.Generator().manual_seed(2)).image
    assert torch.allclose(default.flatten(1).amin(1), torch.tensor(0.0)) and torch.allclose(default.flatten(1).amax(1), torch.tensor(1.0))
    out = gen(output_percentiles=[0.5, 99.5]).generate_batch(labels, rng).image.flatten(1)
    assert out.min() >= 0 and out.max() <= 1
    saturated = (out == 1).float().mean(1)
    assert ((saturated > 0.001) & (saturated < 0.02)).all()


def test_stage_defaults_equal_the_default_presets():
    """YAML is the one source of the generator's defaults: every stage's constructor default equals the value of
    the default preset (conf/<group>/...), and every constructor argument is set there."""
    from spine_synthseg.config import compose_config

    synth = OmegaConf.to_container(compose_config(["experiment=model_a"]).synth, resolve=True)
    for name, cls in STAGES.items():
        node = {k: v for k, v in synth[name].items() if k != "_target_"}
        params = {k: p.default for k, p in inspect.signature(cls).parameters.items() if k != "n_background"}
        assert set(params) == set(node), name  # the YAML names every argument
        for key, default in params.items():
            if key != "spacing_mm":  # interpolated from preprocess.spacing_mm
                assert (list(default) if isinstance(default, tuple) else default) == node[key], (name, key)


def test_from_presets_composes_the_yaml(labels):
    t1 = SpineSynthGenerator.from_presets(["contrast=t1_like", "artifact=none", "preprocess.spacing_mm=1.0"])
    assert t1.contrast.t2_weight == (0.0, 0.0) and t1.spacing_mm == 1.0
    assert all(not s.enabled for s in t1.image_stages[:1] + t1.image_stages[2:4])  # bias, noise, motion off
    a = t1.generate_batch(labels, torch.Generator().manual_seed(0)).image
    b = SpineSynthGenerator.from_presets(["contrast=t1_like", "artifact=none", "preprocess.spacing_mm=1.0"]) \
        .generate_batch(labels, torch.Generator().manual_seed(0)).image
    assert torch.equal(a, b)


def test_gallery_draws_the_configured_generator_and_the_presets(tmp_path):
    from spine_synthseg.apps.gallery import gallery_from_config
    from tests.helpers import compose_cfg

    path = gallery_from_config(compose_cfg(tmp_path, ["source=sample", "contrast=t2_like"]))
    assert path.is_file() and path.stat().st_size > 50_000
