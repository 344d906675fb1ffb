import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

import spine_synthseg.predict as predict_mod
from spine_synthseg.data.records import DataError
from spine_synthseg.train import train
from tests.helpers import compose_cfg
from tests.test_spider_reader import write_case


def test_volume_geometry_round_trip(tmp_path, monkeypatch):
    """With a stand-in segmenter (threshold of the input), the output must equal the thresholded input voxel
    for voxel, whatever the axis order and directions of the file."""
    write_case(tmp_path, 5, "t2", ("si", "ap", "lr"), {"ap", "si"})
    path = tmp_path / "images" / "5_t2.mha"
    monkeypatch.setattr(predict_mod, "segment_slice", lambda model, img, spacing: (img % 7 == 0).astype(np.uint8))
    out = predict_mod.predict_volume(model=None, path=path, out_path=tmp_path / "out" / "labels.mha")
    src, lab = sitk.ReadImage(str(path)), sitk.ReadImage(str(out))
    assert lab.GetSize() == src.GetSize() and lab.GetSpacing() == src.GetSpacing()
    assert lab.GetDirection() == src.GetDirection() and lab.GetOrigin() == src.GetOrigin()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(lab), (sitk.GetArrayFromImage(src) % 7 == 0).astype(np.uint8))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, data_root):
    out = tmp_path_factory.mktemp("pred_run")
    train(compose_cfg(out, ["evaluate_after_fit=false"]))
    return out / "checkpoints" / "best.ckpt"


def test_png_folder_prediction_keeps_size(tmp_path, checkpoint, png_folder):
    written = predict_mod.predict(checkpoint, png_folder, tmp_path / "masks")
    assert len(written) == 6
    for p in written:
        mask = np.array(Image.open(p))
        assert mask.shape == (64, 48) and set(np.unique(mask)) <= {0, 1, 2, 3}


def test_volume_prediction_with_real_model(tmp_path, checkpoint):
    write_case(tmp_path, 6, "t1", ("lr", "si", "ap"), set())
    out = predict_mod.predict(checkpoint, tmp_path / "images" / "6_t1.mha", tmp_path / "pred")
    assert sitk.ReadImage(str(out)).GetSize() == sitk.ReadImage(str(tmp_path / "images" / "6_t1.mha")).GetSize()


def test_bad_inputs(tmp_path, checkpoint):
    with pytest.raises(DataError, match="does not exist"):
        predict_mod.predict(tmp_path / "none.ckpt", tmp_path, tmp_path / "o")
    with pytest.raises(DataError, match="does not exist"):
        predict_mod.predict(checkpoint, tmp_path / "none.mha", tmp_path / "o")
    (tmp_path / "pngs").mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "pngs" / "a.png")
    with pytest.raises(DataError, match="--spacing-mm"):
        predict_mod.predict(checkpoint, tmp_path / "pngs", tmp_path / "o")
