"""predict never loses an input: each wrong input or output ends with one line (exit 2) naming the file and the fix,
with nothing written; outputs appear whole or not at all; empty is an answer; the built wheel works from any folder."""

import csv
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

import spine_synthseg.apps.predict as app
from spine_synthseg.config import PROJECT_ROOT
from tests.test_predict import sagittal_volume


@pytest.fixture(scope="module")
def checkpoint(smoke_runs):
    return smoke_runs["model_a"]["ckpt"]


def volume(path, array=None, spacing=(3.0, 0.8, 0.9), components=1):
    """A small sagittal volume file (5 slices of 32 x 28 mm); array: (z, y, x) voxels instead of the default."""
    if components > 1:
        image = sitk.Compose([sagittal_volume(spacing=spacing)] * components)
    else:
        image = sagittal_volume(spacing=spacing) if array is None else sitk.GetImageFromArray(array)
        if array is not None:
            image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return path


def zero_spacing(path):
    """A MetaImage whose header gives a zero spacing (ITK refuses to hold one in memory, so written by hand)."""
    header = ("ObjectType = Image\nNDims = 3\nDimSize = 5 40 28\nElementSpacing = 3 0 0.9\n"
              "ElementType = MET_SHORT\nElementDataFile = LOCAL\n")
    path.write_bytes(header.encode() + np.zeros((28, 40, 5), np.int16).tobytes())
    return path


def png_folder(root, n=3, mode="L", size=(48, 40), broken=None):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        grey = (rng.random(size) * 200).astype(np.uint8)
        img = Image.fromarray(grey)
        if mode == "RGBA colour":  # a colour overlay with transparency: no grey slice
            img = Image.fromarray(np.dstack([grey, grey[::-1], grey, np.full(size, 128, np.uint8)]), "RGBA")
        elif mode != "L":
            img = img.convert(mode)
        img.save(root / f"s{i}.png")
    if broken:
        (root / broken).write_bytes(b"\x89PNG not really")
    return root


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def cases(tmp):
    """name -> (argv after the checkpoint, the file the message must name, words the message must hold)."""
    vol = volume(tmp / "scan.nii.gz")
    pngs = png_folder(tmp / "pngs")
    (tmp / "a_file").write_text("x")
    out_exists = tmp / "exists.mha"
    out_exists.write_text("user's file")
    return {
        "output is the input volume": ([vol, vol], vol, "is or holds the input"),
        "output is the input PNG folder": ([pngs, pngs, "--spacing-mm", "1"], pngs, "is or holds the input"),
        "output inside the input folder": ([pngs, pngs / "masks", "--spacing-mm", "1"], pngs, "is or holds the input"),
        "output exists": ([vol, out_exists], out_exists, "--overwrite"),
        "output folder's parent missing": ([vol, tmp / "no" / "where" / "labels.mha"], tmp / "no" / "where", "does not exist"),
        "output's parent is a file": ([vol, tmp / "a_file" / "labels.mha"], tmp / "a_file", "is a file"),
        "output folder not writable": ([vol, "/proc/labels.mha"], "/proc", "Cannot write"),
        "volume to a .png name": ([vol, tmp / "labels.png"], tmp / "labels.png", "not a volume file name"),
        "PNG folder to a volume name": ([pngs, tmp / "masks.mha", "--spacing-mm", "1"], tmp / "masks.mha", "folder"),
        "1-voxel volume": ([volume(tmp / "one.mha", np.ones((1, 1, 1), np.int16)), tmp / "o1.mha"], tmp / "one.mha",
                           "min_extent_mm"),
        "vector volume": ([volume(tmp / "vec.mha", components=3), tmp / "o2.mha"], tmp / "vec.mha", "components"),
        "zero spacing": ([zero_spacing(tmp / "zero.mha"), tmp / "o3.mha"], tmp / "zero.mha", "zero voxel spacing"),
        "negative --spacing-mm": ([pngs, tmp / "m1", "--spacing-mm", "-1"], "--spacing-mm", "positive"),
        "RGBA PNG in colour": ([png_folder(tmp / "rgba", mode="RGBA colour"), tmp / "m2", "--spacing-mm", "1"],
                               tmp / "rgba", "transparent"),
        "broken PNG in a folder": ([png_folder(tmp / "broken", broken="s9.png"), tmp / "m3", "--spacing-mm", "1"],
                                   tmp / "broken" / "s9.png", "Cannot read"),
        "models folder as checkpoint": (None, PROJECT_ROOT / "models", "is a folder"),
    }


CASE_NAMES = ["output is the input volume", "output is the input PNG folder", "output inside the input folder",
              "output exists", "output folder's parent missing", "output's parent is a file",
              "output folder not writable", "volume to a .png name", "PNG folder to a volume name", "1-voxel volume",
              "vector volume", "zero spacing", "negative --spacing-mm", "RGBA PNG in colour", "broken PNG in a folder",
              "models folder as checkpoint"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_a_wrong_input_is_one_line_and_nothing_written(tmp_path, checkpoint, case, capsys):
    argv, named, words = cases(tmp_path)[case]
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    args = [str(named), str(tmp_path / "scan.nii.gz"), str(tmp_path / "out.mha")] if argv is None else \
        [str(checkpoint), *map(str, argv)]
    if case == "negative --spacing-mm":  # argparse's own refusal: exit 2, one line
        with pytest.raises(SystemExit) as stop:
            app.main(args)
        assert stop.value.code == 2 and "positive" in capsys.readouterr().err
        return
    assert app.main(args) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0] and str(named) in errors[0], errors
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert after == before  # nothing written, nothing changed, the input intact


def test_an_existing_output_is_replaced_only_with_overwrite(tmp_path, checkpoint):
    vol = volume(tmp_path / "scan.mha")
    out = tmp_path / "labels.mha"
    assert app.main([str(checkpoint), str(vol), str(out)]) == 0
    first = out.read_bytes()
    assert app.main([str(checkpoint), str(vol), str(out)]) == 2 and out.read_bytes() == first
    assert app.main([str(checkpoint), str(vol), str(out), "--overwrite", "--mode", "large_window"]) == 0
    assert sitk.ReadImage(str(out)).GetSize() == sitk.ReadImage(str(vol)).GetSize()
    assert listing(tmp_path) == ["labels.mha", "labels_quality.csv", "scan.mha"]  # no temporary file left


def test_an_interrupted_prediction_leaves_nothing(tmp_path, checkpoint, monkeypatch):
    pngs = png_folder(tmp_path / "pngs")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(app.Image.Image, "save", interrupted)  # stops while the masks are written
    with pytest.raises(KeyboardInterrupt):
        app.predict(checkpoint, pngs, tmp_path / "masks", spacing_mm=1.0)
    assert listing(tmp_path) == ["pngs", "pngs/s0.png", "pngs/s1.png", "pngs/s2.png"]
    monkeypatch.setattr(app.sitk, "WriteImage", interrupted)
    with pytest.raises(KeyboardInterrupt):
        app.predict(checkpoint, volume(tmp_path / "scan.mha"), tmp_path / "new_folder")
    assert not (tmp_path / "new_folder").exists() and not list(tmp_path.glob(".*partial*"))


def test_a_grey_image_saved_in_colour_is_read_as_grey(tmp_path, checkpoint):
    grey = png_folder(tmp_path / "grey")
    rgb = png_folder(tmp_path / "rgb", mode="RGB")
    palette = png_folder(tmp_path / "p", mode="P")
    outs = [app.predict(checkpoint, f, tmp_path / f"m_{f.name}", spacing_mm=1.0, mode="full_pass")
            for f in (grey, rgb, palette)]
    for a, b, c in zip(*outs):
        assert np.array_equal(np.array(Image.open(a)), np.array(Image.open(b)))
        assert np.array_equal(np.array(Image.open(a)), np.array(Image.open(c)))


@pytest.mark.parametrize("kind", ["zeros", "constant", "nan"])
def test_empty_is_an_answer(tmp_path, checkpoint, kind):
    """A blank, constant or non-finite-only volume comes back empty, and empty slices are not flagged."""
    value = {"zeros": 0.0, "constant": 412.0, "nan": np.nan}[kind]
    vol = volume(tmp_path / "blank.nrrd", np.full((48, 40, 5), value, np.float32))
    out = app.predict(checkpoint, vol, tmp_path / "labels.mha", quality=("modes", None, "full_pass"))
    assert not sitk.GetArrayFromImage(sitk.ReadImage(str(out))).any()
    rows = list(csv.DictReader(open(tmp_path / "labels_quality.csv")))
    assert len(rows) == 5 and all(r["check"] == "no" for r in rows)


def test_non_finite_voxels_are_replaced_and_said(tmp_path, checkpoint, caplog):
    array = sitk.GetArrayFromImage(sagittal_volume()).astype(np.float32)
    array[0, 0, :] = np.nan
    vol = volume(tmp_path / "nan.nrrd", array, spacing=(3.0, 0.8, 0.9))
    with caplog.at_level("WARNING"):
        app.predict(checkpoint, vol, tmp_path / "labels.mha", mode="full_pass")
    assert "non-finite voxels" in caplog.text and (tmp_path / "labels.mha").is_file()


def test_the_quality_flag_uses_the_checkpoints_threshold(tmp_path):
    vol = volume(tmp_path / "scan.mha")
    out = app.predict(PROJECT_ROOT / "models" / "model_a.ckpt", vol, tmp_path / "labels.mha", mode="full_pass",
                      quality=("modes", None, "sliding_window"))
    checks = {r["check"] for r in csv.DictReader(open(tmp_path / "labels_quality.csv"))}
    assert out.is_file() and checks <= {"yes", "no"}  # a threshold is stored in the shipped checkpoint: no "unknown"


def test_dicom_is_not_looked_for_in_a_png_folder(tmp_path, checkpoint, capfd):
    pngs = png_folder(tmp_path / "pngs")
    app.predict(checkpoint, pngs, tmp_path / "masks", spacing_mm=1.0, mode="full_pass")
    assert "No Series" not in capfd.readouterr().err


@pytest.mark.slow
def test_the_built_wheel_predicts_from_another_folder(tmp_path, checkpoint):
    """pip wheel (no dependencies, nothing downloaded), a fresh virtual environment that sees the installed
    dependencies, then --help and a prediction, run from a folder that is not the checkout."""
    import shutil

    source = tmp_path / "source"  # what a source distribution holds: the build never writes into the checkout
    shutil.copytree(PROJECT_ROOT / "spine_synthseg", source / "spine_synthseg",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "requirements.txt", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(wheels), str(source)], check=True, capture_output=True, timeout=180)
    (wheel,) = wheels.glob("spine_synthseg-*.whl")
    assert any(n.endswith("conf/config.yaml") for n in zipfile.ZipFile(wheel).namelist())
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(env_dir)], check=True, timeout=120)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True, timeout=180)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    text = {"capture_output": True, "text": True, "env": env, "encoding": "utf-8", "errors": "replace"}
    where = subprocess.run([str(python), "-c", "import spine_synthseg; print(spine_synthseg.__file__)"], cwd=elsewhere,
                           check=True, **text)
    assert str(env_dir) in where.stdout  # the wheel's package, not the checkout's
    command = env_dir / "bin" / "spine-synthseg-predict"
    help_text = subprocess.run([str(command), "--help"], cwd=elsewhere, **text)
    assert help_text.returncode == 0 and "--overwrite" in help_text.stdout and "nothing half-written" in help_text.stdout
    vol = volume(elsewhere / "scan.mha")
    run = subprocess.run([str(command), str(checkpoint), "scan.mha", "labels.mha"], cwd=elsewhere, timeout=120, **text)
    assert run.returncode == 0, run.stderr[-2000:]
    assert sitk.ReadImage(str(elsewhere / "labels.mha")).GetSize() == sitk.ReadImage(str(vol)).GetSize()
