import numpy as np
import pytest

from spine_synthseg.evaluation.metrics import dice_per_structure, surface_distances


def test_dice_hand_computed():
    target = np.zeros((1, 10, 10), int)
    pred = np.zeros((1, 10, 10), int)
    target[0, 0:4, 0:5] = 1  # 20 pixels
    pred[0, 2:6, 0:5] = 1  # 20 pixels, 10 overlap
    target[0, 8, 0:4] = 2  # disc: 4 pixels, prediction empty
    pred[0, 9, 9] = 3  # canal: predicted, absent in truth
    d = dice_per_structure(pred, target)
    assert d[0, 0] == pytest.approx(2 * 10 / 40)
    assert d[0, 1] == 0.0 and d[0, 2] == 0.0


def test_dice_empty_both_is_nan_and_unannotated_excluded():
    z = np.zeros((2, 5, 5), int)
    t = z.copy()
    t[1, 0, 0] = 3
    d = dice_per_structure(z, t, annotated=np.array([[1, 1, 1], [1, 1, 0]], bool))
    assert np.isnan(d).all()  # nothing present in image 0; canal of image 1 not annotated


def test_surface_distances_of_shifted_squares():
    a = np.zeros((40, 40), bool)
    b = np.zeros((40, 40), bool)
    a[10:20, 10:20] = True
    b[10:20, 13:23] = True  # shifted 3 pixels
    hd, assd = surface_distances(a, b, spacing_mm=2.0)
    assert hd == pytest.approx(6.0)  # 3 pixels x 2 mm: the farthest boundary points
    assert 0 < assd <= hd
    assert surface_distances(a, a, 1.0) == (0.0, 0.0)
    assert all(np.isnan(surface_distances(a, np.zeros_like(a), 1.0)))


def test_surface_distances_use_row_and_column_spacing():
    a = np.zeros((20, 20), bool)
    a[5:10, 5:10] = True
    down, right = np.roll(a, 2, axis=0), np.roll(a, 2, axis=1)  # shifted 2 rows / 2 columns
    assert surface_distances(a, down, (0.5, 3.0))[0] == pytest.approx(1.0)  # 2 rows x 0.5 mm
    assert surface_distances(a, right, (0.5, 3.0))[0] == pytest.approx(6.0)  # 2 columns x 3 mm


def test_cropped_surface_distances_equal_full_image_computation():
    from scipy import ndimage

    from spine_synthseg.evaluation.metrics import _surface

    rng = np.random.default_rng(1)
    for k in range(40):
        a = ndimage.binary_dilation(rng.random((60, 50)) < 0.01, iterations=2)
        b = ndimage.binary_dilation(rng.random((60, 50)) < 0.01, iterations=3)
        a[0, :] |= k % 2 == 0  # touching the image border
        sa, sb = _surface(a), _surface(b)
        d = np.concatenate([ndimage.distance_transform_edt(~sb, sampling=0.7)[sa],
                            ndimage.distance_transform_edt(~sa, sampling=0.7)[sb]])
        assert surface_distances(a, b, 0.7) == pytest.approx((np.percentile(d, 95), d.mean()))
