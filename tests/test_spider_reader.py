"""SPIDER .mha reading on small volumes written here, in several axis orders and directions."""

import numpy as np
import pytest
import SimpleITK as sitk

from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.spider_mha import read_spider_folder
from spine_synthseg.errors import DataError
from spine_synthseg.structures import CANAL, DISC, VERTEBRA

# reference volume in (LR, SI-from-top, AP-from-anterior) = (sagittal, rows, cols) order
N_SAG, N_SI, N_AP = 5, 24, 16
SPACING = {"lr": 3.3, "si": 0.6, "ap": 0.7}


def reference():
    mask = np.zeros((N_SAG, N_SI, N_AP), np.uint16)
    mask[:, 2:8, 2:8] = 3  # vertebra L3 near the top, anterior
    mask[:, 8:10, 2:8] = 203  # disc
    mask[:, 10:16, 2:8] = 104  # partially visible vertebra
    mask[1:4, 0:24, 10:12] = 100  # canal, posterior, only in the central slices
    image = np.arange(mask.size, dtype=np.float32).reshape(mask.shape)
    return image, mask


def write_case(root, pid, seq, axes_order, flips):
    """Write the reference in a chosen index-axis order with directions that encode it (LPS).

    axes_order: which anatomical axis ('lr', 'si', 'ap') each ITK index axis (x, y, z) follows.
    flips: set of anatomical axes stored in the opposite direction.
    """
    image, mask = reference()
    # physical directions (LPS) of increasing reference index: lr -> +x (left), si (top to bottom) -> -z, ap -> +y
    unit = {"lr": np.array([1.0, 0, 0]), "si": np.array([0, 0, -1.0]), "ap": np.array([0, 1.0, 0])}
    ref_axis = {"lr": 0, "si": 1, "ap": 2}
    arrays = []
    for vol in (image, mask):
        v = vol
        for a in flips:
            v = np.flip(v, ref_axis[a])
        v = np.transpose(v, [ref_axis[a] for a in axes_order])  # now index order (x, y, z)
        arrays.append(np.ascontiguousarray(np.transpose(v, (2, 1, 0))))  # sitk wants (z, y, x)
    direction = np.stack([unit[a] * (-1 if a in flips else 1) for a in axes_order], 1)
    for sub, arr in zip(("images", "masks"), arrays):
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing([SPACING[a] for a in axes_order])
        img.SetDirection(direction.flatten().tolist())
        (root / sub).mkdir(parents=True, exist_ok=True)
        sitk.WriteImage(img, str(root / sub / f"{pid}_{seq}.mha"))


@pytest.mark.parametrize("axes_order,flips", [
    (("lr", "si", "ap"), set()),
    (("ap", "si", "lr"), {"si"}),
    (("si", "ap", "lr"), {"ap", "lr"}),
    (("lr", "ap", "si"), {"si"}),
])
def test_axis_orders_give_the_same_slices(tmp_path, axes_order, flips):
    write_case(tmp_path, 1, "t2", axes_order, flips)
    records, report = read_spider_folder(tmp_path, "t2", max_slices_per_volume=5)
    image, mask = reference()
    assert report["volumes"] == 1 and len(records) == 3  # canal in the central 3 sagittal slices
    r = records[1]
    assert r.spacing_mm == pytest.approx((SPACING["si"], SPACING["ap"]))
    assert r.structures.shape == (N_SI, N_AP)
    assert (r.structures[2:8, 2:8] == VERTEBRA).all() and (r.structures[8:10, 2:8] == DISC).all()
    assert (r.structures[10:16, 2:8] == VERTEBRA).all() and (r.structures[:, 10:12] == CANAL).all()
    # image content matches the reference slice up to the sagittal flip
    candidates = [image[i] for i in range(N_SAG)]
    assert any(np.array_equal(r.image, c) for c in candidates)
    assert r.patient_id == "1" and r.sequence == "t2"
    assert len(np.unique(r.instances)) == 5  # background, L3, disc, partial vertebra, canal


def test_layout_finds_sagittal_axis_from_direction(tmp_path):
    write_case(tmp_path, 2, "t1", ("si", "ap", "lr"), set())
    img = sitk.ReadImage(str(tmp_path / "images" / "2_t1.mha"))
    layout = SagittalLayout.of(img)
    assert (layout.sagittal, layout.vertical, layout.ap) == (2, 0, 1)
    assert not layout.flip_vertical and not layout.flip_ap
    assert layout.spacing_rc_mm == pytest.approx((SPACING["si"], SPACING["ap"]))


@pytest.mark.parametrize("axes_order,flips", [(("lr", "si", "ap"), set()), (("si", "ap", "lr"), {"ap", "lr"}),
                                              (("ap", "lr", "si"), {"si"})])
def test_slices_round_trip_to_the_volume_grid(tmp_path, axes_order, flips):
    """from_slices(to_slices(v)) gives back v voxel for voxel, with the input geometry."""
    write_case(tmp_path, 7, "t2", axes_order, flips)
    img = sitk.ReadImage(str(tmp_path / "masks" / "7_t2.mha"))
    layout = SagittalLayout.of(img)
    slices = layout.to_slices(img)
    assert slices.shape == (N_SAG, N_SI, N_AP)
    back = layout.from_slices(slices, img)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(img))
    assert back.GetDirection() == img.GetDirection() and back.GetOrigin() == img.GetOrigin()


def test_unknown_sequence_and_labels(tmp_path):
    write_case(tmp_path, 3, "t2", ("lr", "si", "ap"), set())
    with pytest.raises(DataError, match="Unknown SPIDER sequence"):
        read_spider_folder(tmp_path, "flair")
    m = sitk.ReadImage(str(tmp_path / "masks" / "3_t2.mha"))
    arr = sitk.GetArrayFromImage(m)
    arr[0, 0, 0] = 150
    bad = sitk.GetImageFromArray(arr)
    bad.CopyInformation(m)
    sitk.WriteImage(bad, str(tmp_path / "masks" / "3_t2.mha"))
    with pytest.raises(DataError, match="not SPIDER labels"):
        read_spider_folder(tmp_path, "t2")


def test_missing_mask_and_folder(tmp_path):
    with pytest.raises(DataError, match="not a SPIDER release folder"):
        read_spider_folder(tmp_path, "t1")
    write_case(tmp_path, 4, "t1", ("lr", "si", "ap"), set())
    (tmp_path / "masks" / "4_t1.mha").unlink()
    with pytest.raises(DataError, match="has no mask"):
        read_spider_folder(tmp_path, "t1")
