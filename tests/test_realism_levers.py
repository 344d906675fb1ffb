"""The realism / randomisation levers (issue: realism against randomisation): each test shows that the batch holds
the new element: tissue classes, randomised tissue backgrounds, weakened distance bands, distractors labelled
background, crops without spine, smoothed sub-labels."""

import numpy as np
import pytest
import torch

from spine_synthseg.errors import ConfigError
from spine_synthseg.labels import tissue_classes
from spine_synthseg.synthesis.background import BackgroundPartition, majority
from spine_synthseg.synthesis.distractors import RandomDistractors
from spine_synthseg.synthesis.gmm import generation_labels
from spine_synthseg.training.crops import RandomCrop
from tests.test_generator import OFF, gen, labels  # noqa: F401  (the label-map fixture)

SIZE = (64, 48)


def test_tissue_classes_follow_real_boundaries():
    """Four background stripes of increasing intensity: four classes, numbered by intensity; 0 in the structures."""
    size = (64, 160)
    stripes = np.repeat(np.arange(4), size[1] // 4)[None].repeat(size[0], 0)
    image = (stripes / 4 + np.random.default_rng(0).normal(0, 0.01, size)).astype(np.float32)
    structures = np.zeros(size, np.uint8)
    structures[24:40, 70:90] = 1
    classes = tissue_classes(image, structures, k=4)
    assert (classes[structures > 0] == 0).all()
    modes = [np.bincount(classes[(stripes == j) & (structures == 0)]).argmax() for j in range(4)]
    assert modes == [0, 1, 2, 3]


def batch_with_tissue(labels):  # noqa: F811
    b = {k: v.clone() for k, v in labels.items()}
    b["tissue"] = torch.arange(SIZE[1]).div(SIZE[1] / 12, rounding_mode="floor").long().expand_as(b["structures"]).clone()
    b["tissue"][b["structures"] > 0] = 0
    return b


def test_tissue_background_merges_classes_at_random(labels):  # noqa: F811
    batch = batch_with_tissue(labels)
    stage = BackgroundPartition(mode="tissue", n_tissue=12, tissue_k=(3, 3), spacing_mm=1.0)
    regions = stage.apply(stage.sample(len(batch["structures"]), SIZE, torch.Generator().manual_seed(0)), batch)
    for i in range(len(regions)):
        values = regions[i][batch["structures"][i] == 0].unique()
        assert 1 < len(values) <= 3  # 12 classes merged into at most 3 regions
        for c in range(12):  # a tissue class maps to one region (no independent deformation here)
            assert len(regions[i][batch["tissue"][i] == c].unique()) <= 1 or c == 0
    only = BackgroundPartition(mode="tissue", n_tissue=12, label_only_prob=1.0, spacing_mm=1.0)
    assert only.n_regions == 15
    ref = BackgroundPartition(mode="distance_random", spacing_mm=1.0)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    n = len(batch["structures"])
    p1 = only.sample(n, SIZE, g1)
    p2 = ref.sample(n, SIZE, g2)
    p1.field = p2.field
    assert torch.equal(only.apply(p1, batch), ref.apply(p2, batch))


def test_tissue_background_deformed_apart_from_the_spine(labels):  # noqa: F811
    batch = batch_with_tissue(labels)
    stage = BackgroundPartition(mode="tissue", n_tissue=12, tissue_k=(12, 12), independent_deform=True, spacing_mm=1.0)
    params = stage.sample(len(batch["structures"]), SIZE, torch.Generator().manual_seed(0))
    params.merge = torch.arange(12).expand(len(batch["structures"]), 12)  # identity merge: regions = tissue map
    regions = stage.apply(params, batch)
    assert not torch.equal(regions, batch["tissue"])


def test_tissue_mode_needs_the_tissue_key(labels):  # noqa: F811
    with pytest.raises(ConfigError, match="preprocess.n_tissue"):
        BackgroundPartition(mode="tissue", spacing_mm=1.0)  # no tissue classes computed
    stage = BackgroundPartition(mode="tissue", n_tissue=12, spacing_mm=1.0)
    with pytest.raises(ConfigError, match="tissue"):
        stage.apply(stage.sample(1, SIZE), {k: v[:1] for k, v in labels.items() if k != "tissue"})


def test_bands_off_and_random_edges(labels):  # noqa: F811
    off = BackgroundPartition(mode="distance", band_prob=0.0, spacing_mm=1.0)
    n = len(labels["structures"])
    assert (off.apply(off.sample(n, SIZE), labels) == 0).all()
    on = BackgroundPartition(mode="distance", spacing_mm=1.0)
    full = on.apply(on.sample(n, SIZE), labels)
    coarse_stage = BackgroundPartition(mode="distance", random_edges=True, spacing_mm=1.0)
    params = coarse_stage.sample(n, SIZE, torch.Generator().manual_seed(0))
    params.edges_on[:] = torch.tensor([True, False, True, False])
    coarse = coarse_stage.apply(params, labels)
    assert len(coarse.unique()) < len(full.unique())
    assert coarse.max() <= 2  # two kept edges: three bands


def test_distractors_are_labelled_background_with_spine_intensities(labels):  # noqa: F811
    s = labels["structures"]
    stage = RandomDistractors(prob=1.0, shift_mm=(20, 30), min_distance_mm=0.0, spacing_mm=1.0)
    params = stage.sample(len(s), SIZE, torch.Generator().manual_seed(0))
    params.kinds[:] = True
    gl = generation_labels(s, labels["instances"], torch.zeros_like(s), 1, 128)
    out = stage.apply(params, gl, s, labels["bg_distance"])
    painted = (s == 0) & (out.labels >= 1)  # background pixels carrying a spine (instance) generation label
    assert painted.flatten(1).any(1).all()
    assert (out.tissue.gather(1, out.labels.flatten(1))[painted.flatten(1)] > 0).all()  # spine tissue classes
    gen_out = gen(distractors={"prob": 1.0, "min_distance_mm": 0.0}, **OFF).generate_batch(
        {k: v for k, v in labels.items()}, torch.Generator().manual_seed(0))
    assert torch.equal(gen_out.structures, s)  # the target keeps them as background


def test_distractors_keep_their_distance(labels):  # noqa: F811
    s = labels["structures"]
    stage = RandomDistractors(prob=1.0, min_distance_mm=6.0, spacing_mm=1.0)
    params = stage.sample(len(s), SIZE, torch.Generator().manual_seed(2))
    params.kinds[:] = True
    gl = generation_labels(s, labels["instances"], torch.zeros_like(s), 1, 128)
    out = stage.apply(params, gl, s, labels["bg_distance"])
    near = (s == 0) & (labels["bg_distance"] == 0)
    assert (out.labels[near] == 0).all()
    with pytest.raises(ConfigError, match="min_distance_mm"):
        RandomDistractors(min_distance_mm=7.0, spacing_mm=1.0)


def test_crops_without_spine():
    structures = torch.zeros(16, 100, 60, dtype=torch.long)
    structures[:, 0:40, 0:60] = 1  # the spine in the top 40 rows of a 100-row slice
    shapes = torch.tensor([[100, 60]] * 16)
    corners = RandomCrop((50, 60), 0.0, 1.0).sample(shapes, structures, torch.Generator().manual_seed(0))
    uniform = RandomCrop((50, 60), 0.0, 0.0).sample(shapes, structures, torch.Generator().manual_seed(0))
    spine_rows = lambda c: (40 - c[:, 0]).clamp_min(0).float().mean()  # noqa: E731  rows of spine per crop
    assert spine_rows(corners) < 0.2 * spine_rows(uniform)
    assert (corners[:, 0] >= 40).float().mean() > 0.7  # most crops hold no spine at all
    with pytest.raises(ConfigError, match="crop_background_prob"):
        RandomCrop((50, 60), 0.5, 0.6)


def test_majority_smoothing_removes_speckle():
    classes = torch.zeros(1, 20, 20, dtype=torch.long)
    classes[0, :, 10:] = 1
    speckled = classes.clone()
    speckled[0, 5, 3] = 1
    speckled[0, 12, 15] = 0
    assert torch.equal(majority(speckled, 2, 3), classes)
    assert torch.equal(majority(speckled, 2, 0), speckled)


def test_smoothed_sub_labels_change_the_image(labels):  # noqa: F811
    batch = {k: v for k, v in labels.items()}
    batch["clusters"] = torch.randint(0, 4, batch["structures"].shape, generator=torch.Generator().manual_seed(0))
    raw = gen(subregions={"mode": "real_clusters", "prob": 1.0}, **OFF).generate_batch(batch, torch.Generator().manual_seed(0))
    smooth = gen(subregions={"mode": "real_clusters", "prob": 1.0, "smooth_px": 5}, **OFF).generate_batch(
        batch, torch.Generator().manual_seed(0))
    inside = batch["structures"][:, None] > 0
    # smoothing the cluster map removes pixel-level speckle: neighbouring pixels differ less inside the structures
    grad = lambda x: (x[..., 1:, :] - x[..., :-1, :]).abs()[inside[..., 1:, :] & inside[..., :-1, :]].mean()  # noqa: E731
    assert grad(smooth.image) < grad(raw.image)
