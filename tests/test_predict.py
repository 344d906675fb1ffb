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
    monkeypatch.setattr(predict_mod, "segment_stack",
                        lambda model, slices, spacing, mode, desc: (slices % 7 == 0).astype(np.uint8))
    image = sitk.ReadImage(str(path))
    out = predict_mod.predict_volume(None, image, predict_mod.check_volume(image, path, 0.0), tmp_path / "labels.mha",
                                     "full_pass", path)
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
    monkeypatch.setattr(predict_mod, "segment_pngs",
                        lambda model, images, spacings, mode, name: [seen.append(im) or np.zeros(im.shape, np.uint8)
                                                                      for im in images])
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
                            env={**os.environ, "HYDRA_FULL_ERROR": "0"}, encoding="utf-8", errors="replace")
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


@pytest.mark.parametrize("mode, scale", [("sliding_window", 1.0), ("large_window", 1.5)])
def test_windowed_modes_feed_windows_of_their_size(checkpoint, mode, scale):
    """Every window the network sees is the training crop x the mode's scale (multiple of 16 px), also on a slice
    smaller than one window (zero-padded)."""
    model = load_checkpoint(checkpoint)
    crop = [int(v) for v in model.hparams.preprocess["size"]]
    expected = tuple(-(-round(n * scale) // 16) * 16 for n in crop)
    seen = []
    hook = model.register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape[-2:])))
    working = float(model.hparams.preprocess["spacing_mm"])
    for shape in [(3 * crop[0], 2 * crop[1] + 5), (crop[0] // 2, crop[1] // 2)]:
        image = torch.rand(*shape, generator=torch.Generator().manual_seed(3)).numpy()
        assert segment_slices(model, [image], [(working, working)], mode=mode)[0].shape == shape
    hook.remove()
    assert seen and set(seen) == {expected}


def test_flip_average_is_mirror_equivariant(checkpoint):
    """Averaging the softmax with the mirrored slice's makes the prediction of a mirrored slice the mirrored
    prediction (full pass, width a multiple of 16: no asymmetric padding)."""
    model = load_checkpoint(checkpoint)
    working = float(model.hparams.preprocess["spacing_mm"])
    image = torch.rand(48, 64, generator=torch.Generator().manual_seed(3)).numpy() * 300
    seg = lambda im: segment_slices(model, [np.ascontiguousarray(im)], [(working, working)], mode="full_pass",  # noqa: E731
                                    flip_average=True)[0]
    np.testing.assert_array_equal(seg(image[:, ::-1]), seg(image)[:, ::-1])
    plain = segment_slices(model, [image], [(working, working)], mode="full_pass")[0]
    assert plain.shape == seg(image).shape


def test_column_band_removes_foreground_far_from_the_column():
    from spine_synthseg.models.postprocess import column_band

    pred = np.zeros((100, 100), np.uint8)
    pred[10:90, 45:55] = 1  # the column: vertebrae ...
    pred[30:33, 45:55] = 2  # ... and a disc
    pred[10:90, 57:60] = 3  # canal beside it: kept
    pred[40:50, 0:6] = 1  # a false vertebra 45 px (45 mm) away
    out = column_band(pred, (1.0, 1.0), band_mm=30)
    assert (out[40:50, 0:6] == 0).all() and (out[10:90, 45:60] == pred[10:90, 45:60]).all()
    assert np.array_equal(column_band(pred, (1.0, 1.0), band_mm=60), pred)  # a wide band keeps everything
    assert np.array_equal(column_band(np.zeros((8, 8), np.uint8), (1.0, 1.0)), np.zeros((8, 8), np.uint8))


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
    monkeypatch.setattr(app, "predict_png_folder",
                        lambda m, folder, out, slices, mode, quality=None, rule=None: seen.append(mode))
    folder = tmp_path / "pngs"
    folder.mkdir()
    Image.fromarray((np.arange(40 * 32).reshape(40, 32) % 251).astype(np.uint8)).save(folder / "a.png")
    (folder / "dataset.json").write_text('{"pixel_spacing_mm": 1.0}')
    app.predict(path, folder, tmp_path / "out")
    other = "sliding_window" if expected == "full_pass" else "full_pass"
    app.predict(path, folder, tmp_path / "out", mode=other)
    assert seen == [expected, other]


def sagittal_volume(shape=(5, 40, 32), spacing=(3.0, 0.8, 0.9)) -> sitk.Image:
    """A sagittal stack in LPS: index x = left-right (5 slices), y = anterior-posterior, z = inferior-superior,
    with a bright block; spacing (x, y, z) mm, a non-trivial origin."""
    arr = np.zeros(shape[::-1], np.int16)  # (z, y, x)
    arr[10:30, 8:24, :] = 800
    arr += (np.arange(arr.size).reshape(arr.shape) % 11).astype(np.int16)
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing(spacing)
    image.SetOrigin((-12.5, 30.25, -80.0))
    return image


def write_dicom_series(image: sitk.Image, folder) -> None:
    """One DICOM file per sagittal (x) slice, with position and orientation tags, as a scanner writes a series."""
    folder.mkdir(parents=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    series_uid = "1.2.826.0.1.3680043.2.1125.1"
    for i in range(image.GetSize()[0]):
        position = image.TransformIndexToPhysicalPoint((i, 0, 0))
        sl = sitk.JoinSeries(sitk.PermuteAxes(image[i:i + 1, :, :], [1, 2, 0])[:, :, 0])
        sl.SetSpacing((image.GetSpacing()[1], image.GetSpacing()[2], image.GetSpacing()[0]))
        tags = {"0008|0060": "MR", "0020|000e": series_uid, "0020|000d": series_uid + ".0",
                "0020|0032": "\\".join(f"{p:.4f}" for p in position), "0020|0037": "0\\1\\0\\0\\0\\1",
                "0020|0013": str(i + 1), "0008|0018": f"{series_uid}.{i + 1}", "0018|0050": f"{image.GetSpacing()[0]}"}
        for k, v in tags.items():
            sl.SetMetaData(k, v)
        writer.SetFileName(str(folder / f"slice{i:03d}.dcm"))
        writer.Execute(sl)


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["spine-synthseg-predict", *map(str, args)], capture_output=True, text=True, timeout=300,
                          encoding="utf-8", errors="replace")


def test_console_predict_keeps_the_geometry_of_dicom_and_nifti(tmp_path, checkpoint):
    """The installed console command segments a DICOM series folder and a NIfTI volume; the label volumes have the
    input's size, origin, spacing and direction."""
    volume = sagittal_volume()
    write_dicom_series(volume, tmp_path / "dicom")
    dicom_in = sitk.ReadImage(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(tmp_path / "dicom")))
    nifti = tmp_path / "case.nii.gz"
    sitk.WriteImage(volume, str(nifti))
    for source, reference, out in ((tmp_path / "dicom", dicom_in, tmp_path / "out_dicom"),
                                   (nifti, sitk.ReadImage(str(nifti)), tmp_path / "labels.nii.gz")):
        result = run_cli(checkpoint, source, out)
        assert result.returncode == 0, result.stderr[-2000:]
        labels = sitk.ReadImage(result.stdout.strip().splitlines()[-1])
        assert labels.GetSize() == reference.GetSize()
        np.testing.assert_allclose(labels.GetOrigin(), reference.GetOrigin(), atol=1e-3)
        np.testing.assert_allclose(labels.GetSpacing(), reference.GetSpacing(), atol=1e-3)
        np.testing.assert_allclose(labels.GetDirection(), reference.GetDirection(), atol=1e-6)
        assert set(np.unique(sitk.GetArrayFromImage(labels))) <= {0, 1, 2, 3}
    assert (tmp_path / "out_dicom" / "dicom_labels.mha").is_file()


def _oblique(tmp_path):
    image = sagittal_volume()
    rows = np.array([[1, 1, 1] / np.sqrt(3), [1, -1, 0] / np.sqrt(2), [1, 1, -2] / np.sqrt(6)])
    image.SetDirection(rows.ravel().tolist())  # left-right 55 degrees from every index axis: no sagittal axis
    sitk.WriteImage(image, str(tmp_path / "oblique.mha"))
    return tmp_path / "oblique.mha"


@pytest.mark.parametrize("case, message", [
    ("missing_input", "does not exist"),
    ("empty_folder", "no DICOM series and no .png slices"),
    ("not_an_image", "Cannot read"),
    ("no_sagittal_axis", "no sagittal axis"),
    ("not_a_checkpoint", "not a checkpoint torch can read"),
])
def test_predict_wrong_input_is_one_line_naming_the_file(tmp_path, checkpoint, case, message, capsys):
    """The command line's answer to each wrong input: exit status 2 and one line that names the file and the fix
    (the console command runs this main; in-process here, the subprocess path is tested above)."""
    ckpt, source = checkpoint, tmp_path / "in.mha"
    if case == "missing_input":
        source = tmp_path / "nowhere.nii.gz"
    elif case == "empty_folder":
        source = tmp_path / "empty"
        source.mkdir()
    elif case == "not_an_image":
        source = tmp_path / "notes.nii"
        source.write_text("not an image")
    elif case == "no_sagittal_axis":
        source = _oblique(tmp_path)
    else:
        ckpt = tmp_path / "weights.ckpt"
        ckpt.write_text("not a checkpoint")
        sitk.WriteImage(sagittal_volume(), str(source))
    assert predict_mod.main([str(ckpt), str(source), str(tmp_path / "out")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message in errors[0]
    named = ckpt if case == "not_a_checkpoint" else source
    assert str(named) in errors[0]


def test_quality_agreement_and_scores(checkpoint):
    from spine_synthseg.errors import ConfigError
    from spine_synthseg.models.quality import agreement, quality_scores

    a = np.zeros((10, 10), np.uint8)
    a[2:6, 2:6] = 1
    b = a.copy()
    b[2:6, 2:4] = 0  # half of class 1 lost
    assert agreement(a, a) == 1.0 and agreement(a, b) == pytest.approx(2 * 8 / 24)
    assert np.isnan(agreement(a * 0, b * 0))
    model = load_checkpoint(checkpoint)
    image = torch.rand(40, 30, generator=torch.Generator().manual_seed(0)).numpy() * 100
    pred = segment_slices(model, [image], [(1.5, 1.5)], mode="full_pass")
    for kind in ("flip", "modes"):
        (score,) = quality_scores(model, [image], [(1.5, 1.5)], pred, kind, "full_pass", "sliding_window")
        assert np.isnan(score) or 0.0 <= score <= 1.0
    same = segment_slices(model, [image], [(1.5, 1.5)], mode="sliding_window")
    assert quality_scores(model, [image], [(1.5, 1.5)], same, "modes", "sliding_window", "full_pass")[0] == \
        pytest.approx(agreement(same[0], pred[0]), nan_ok=True)
    with pytest.raises(ConfigError, match="flip"):
        quality_scores(model, [image], [(1.5, 1.5)], pred, "entropy", "full_pass")
    with pytest.raises(ConfigError, match="quality_second_mode"):  # the second mode is named, never guessed
        quality_scores(model, [image], [(1.5, 1.5)], pred, "modes", "full_pass", "full_pass")


def test_predict_writes_quality_flags(tmp_path, checkpoint, png_folder):
    import csv

    predict_mod.predict(checkpoint, png_folder, tmp_path / "masks", quality=("flip", 1.01, None))
    rows = list(csv.DictReader(open(tmp_path / "masks" / "quality.csv")))
    assert len(rows) == 6 and set(rows[0]) == {"slice", "quality_flip", "check"}
    assert all(r["check"] == "yes" for r in rows)  # a threshold above 1 flags every slice
