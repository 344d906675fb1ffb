"""Training crops over the whole slice and nnU-Net's intensity augmentation (Model B+aug)."""

import pytest
import torch

from spine_synthseg.errors import ConfigError
from spine_synthseg.training.augmentation import DEFAULT_P, NnUNetIntensityAugmentation
from spine_synthseg.training.crops import RandomCrop


def canvas(b=64, h=60, w=50):
    structures = torch.zeros(b, h, w, dtype=torch.long)
    structures[:, 40:44, 30:34] = 1  # a small structure in the lower right
    shapes = torch.tensor([[50, 40]] * b)  # each slice is 50 x 40 in the top-left of the canvas
    return structures, shapes


def test_crops_stay_inside_the_slice_and_cover_it():
    structures, shapes = canvas(b=2000)
    corners = RandomCrop((20, 16), foreground_prob=0.0).sample(shapes, structures, torch.Generator().manual_seed(0))
    assert corners.min() >= 0 and (corners[:, 0] <= 30).all() and (corners[:, 1] <= 24).all()
    assert set(corners[:, 0].tolist()) == set(range(31)) and set(corners[:, 1].tolist()) == set(range(25))


def test_a_third_of_crops_are_forced_onto_foreground():
    structures, shapes = canvas(b=3000)
    crop = RandomCrop((20, 16))
    corners = crop.sample(shapes, structures, torch.Generator().manual_seed(1))
    has_fg = crop.apply(corners, structures).flatten(1).amax(1) > 0
    uniform_rate = RandomCrop((20, 16), 0.0)
    base = uniform_rate.apply(uniform_rate.sample(shapes, structures, torch.Generator().manual_seed(2)), structures)
    base_rate = (base.flatten(1).amax(1) > 0).float().mean()
    expected = 1 / 3 + 2 / 3 * base_rate
    assert has_fg.float().mean() == pytest.approx(float(expected), abs=0.03)


def test_crop_apply_takes_the_same_window_of_every_tensor():
    x = torch.arange(2 * 8 * 6).view(2, 1, 8, 6)
    crop = RandomCrop((4, 3))
    corners = torch.tensor([[1, 2], [4, 0]])
    out = crop.apply(corners, x)
    assert torch.equal(out[0, 0], x[0, 0, 1:5, 2:5]) and torch.equal(out[1, 0], x[1, 0, 4:8, 0:3])


def test_augmentation_off_is_identity_and_on_changes_images():
    x = torch.rand(8, 1, 32, 24, generator=torch.Generator().manual_seed(0))
    off = NnUNetIntensityAugmentation({k: 0.0 for k in DEFAULT_P})
    assert torch.allclose(off(x, torch.Generator().manual_seed(0)), x, atol=1e-5)
    for name in DEFAULT_P:
        one = NnUNetIntensityAugmentation({k: float(k == name) for k in DEFAULT_P})
        y = one(x, torch.Generator().manual_seed(3))
        assert torch.isfinite(y).all() and (y - x).abs().mean() > 1e-3, name


def test_augmentation_is_reproducible_and_validated():
    x = torch.rand(8, 1, 32, 24, generator=torch.Generator().manual_seed(0))
    aug = NnUNetIntensityAugmentation()
    assert torch.equal(aug(x, torch.Generator().manual_seed(5)), aug(x, torch.Generator().manual_seed(5)))
    with pytest.raises(ConfigError, match="probabilities.gamma"):
        NnUNetIntensityAugmentation({"gamma": 2.0})
    with pytest.raises(ConfigError, match="unknown"):
        NnUNetIntensityAugmentation({"solarize": 0.1})
