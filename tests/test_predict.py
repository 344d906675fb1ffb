import os
import subprocess
import sys

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from PIL import Image

import spine_synthseg.apps.predict as predict_mod
from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.data.preprocess import normalise
from spine_synthseg.errors import DataError
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import segment_batch, segment_slice, segment_slices
from tests.test_spider_reader import write_case


def test_volume_geometry_round_trip(tmp_path, monkeypatch):
    """With a stand-in segmenter (threshold of the input), the output must equal the thresholded input voxel
    for voxel, whatever the axis order and directions of the file."""
    write_case(tmp_path, 5, "t2", ("si", "ap", "lr"), {"ap", "si"})
    path = tmp_path / "images" / "5_t2.mha"
    monkeypatch.setattr(predict_mod, "segment_slice", lambda model, img, spacing, mode: (img % 7 == 0).astype(np.uint8))
    out = predict_mod.predict_volume(model=None, path=path, out_path=tmp_path / "out" / "labels.mha")
    src, lab = sitk.ReadImage(str(path)), sitk.ReadImage(str(out))
    assert lab.GetSize() == src.GetSize() and lab.GetSpacing() == src.GetSpacing()
    assert lab.GetDirection() == src.GetDirection() and lab.GetOrigin() == src.GetOrigin()
    np.testing.assert_array_equal(sitk.GetArrayFromImage(lab), (sitk.GetArrayFromImage(src) % 7 == 0).astype(np.uint8))


@pytest.fixture(scope="module")
def checkpoint(smoke_runs):
    return smoke_runs["model_a"]["ckpt"]


def test_segment_slice_is_segment_batch_on_the_working_grid(checkpoint):
    """At the working spacing and a multiple of 16, the full-pass slice path is exactly the batch path."""
    model = load_checkpoint(checkpoint)
    image = torch.rand(64, 48, generator=torch.Generator().manual_seed(0)).numpy() * 1000
    working = float(model.hparams.preprocess["spacing_mm"])
    x = normalise(torch.from_numpy(image), (0.5, 99.5))[None, None]
    np.testing.assert_array_equal(segment_slice(model, image, (working, working), "full_pass"), segment_batch(model, x)[0].numpy())


def test_png_folder_prediction_keeps_size(tmp_path, checkpoint, png_folder):
    written = predict_mod.predict(checkpoint, png_folder, tmp_path / "masks")
    assert len(written) == 6
    for p in written:
        mask = np.array(Image.open(p))
        assert mask.shape == (64, 48) and set(np.unique(mask)) <= {0, 1, 2, 3}


def test_16_bit_png_is_read_at_full_depth(tmp_path, checkpoint, monkeypatch):
    (tmp_path / "pngs").mkdir()
    values = (np.arange(32 * 32).reshape(32, 32) * 60).astype(np.uint16)  # up to 61,380: needs 16 bits
    Image.fromarray(values).save(tmp_path / "pngs" / "a.png")
    seen = []
    monkeypatch.setattr(predict_mod, "segment_slice",
                        lambda model, img, spacing, mode: seen.append(img) or np.zeros(img.shape, np.uint8))
    predict_mod.predict(checkpoint, tmp_path / "pngs", tmp_path / "o", spacing_mm=1.0)
    assert len(seen) == 1 and seen[0].max() == values.max()


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


@pytest.mark.parametrize("cmd", [
    [sys.executable, "-m", "spine_synthseg.predict", "missing.ckpt", ".", "out"],
    [sys.executable, "run.py", "mode=predict", "hydra.run.dir=OUT"],
    [sys.executable, "run.py", "budget=smoke", "preprocess.spacing_mm=9", "hydra.run.dir=OUT"],
])
def test_cli_errors_are_one_line(tmp_path, cmd):
    cmd = [c.replace("OUT", str(tmp_path / "run")) for c in cmd]
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HYDRA_FULL_ERROR": "0"})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-2000:]


def test_sliding_window_mode(checkpoint):
    """On a slice exactly one training crop in size the window is the whole slice: both modes agree; bigger
    slices keep their shape; an unknown mode names the choices."""
    model = load_checkpoint(checkpoint)
    h, w = (int(v) for v in model.hparams.preprocess["size"])
    working = float(model.hparams.preprocess["spacing_mm"])
    image = torch.rand(h, w, generator=torch.Generator().manual_seed(1)).numpy() * 500
    full, slid = (segment_slices(model, [image], [(working, working)], mode=m)[0] for m in ("full_pass", "sliding_window"))
    assert np.array_equal(full, slid)
    big = torch.rand(2 * h + 7, w + 30, generator=torch.Generator().manual_seed(2)).numpy()
    assert segment_slices(model, [big], [(working, working)], mode="sliding_window")[0].shape == big.shape
    with pytest.raises(Exception, match="full_pass"):
        segment_slices(model, [image], [(working, working)], mode="tiles")


def _with_mode(checkpoint, tmp_path, mode):
    """A copy of `checkpoint` whose saved inference_mode is `mode` (None: removed, as in older checkpoints)."""
    ckpt = torch.load(checkpoint, map_location="cpu", weights_only=False)
    ckpt["hyper_parameters"].pop("inference_mode", None)
    if mode is not None:
        ckpt["hyper_parameters"]["inference_mode"] = mode
    path = tmp_path / f"{mode}.ckpt"
    torch.save(ckpt, path)
    return path


@pytest.mark.parametrize("saved, expected", [("full_pass", "full_pass"), ("sliding_window", "sliding_window"),
                                             (None, "full_pass")])
def test_predict_uses_the_checkpoints_inference_mode(checkpoint, tmp_path, monkeypatch, saved, expected):
    """The mode a checkpoint was selected with is saved in it and is predict's default (an older checkpoint
    without it was selected with the full pass); an explicit mode wins."""
    import spine_synthseg.apps.predict as app
    path = _with_mode(checkpoint, tmp_path, saved)
    assert load_checkpoint(path).hparams.inference_mode == expected
    seen = []
    monkeypatch.setattr(app, "predict_png_folder", lambda m, folder, out, sp, mode: seen.append(mode))
    folder = tmp_path / "pngs"
    folder.mkdir()
    app.predict(path, folder, tmp_path / "out")
    other = "sliding_window" if expected == "full_pass" else "full_pass"
    app.predict(path, folder, tmp_path / "out", mode=other)
    assert seen == [expected, other]
