"""predict applies the volume rule to volumes and to PNG folders that are one stack, --volume-rule none turns it off,
and the quality CSV says per slice what the rule removed. The model's labels are the synthetic volume of
test_volume_rule (segmentation replaced), so the rule's effect is known exactly."""

import csv
import json

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

import spine_synthseg.apps.predict as app
from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.models.volume_rule import apply_rule, load_rule
from tests.test_volume_rule import phantom, scores_of


@pytest.fixture(scope="module")
def checkpoint(smoke_runs):
    return smoke_runs["model_a"]["ckpt"]


@pytest.fixture()
def painted(monkeypatch):
    """The model 'predicts' the phantom (painted and real column) and scores its slices as scores_of does."""
    labels, real = phantom()
    scores = scores_of(labels, real)
    monkeypatch.setattr(app, "segment_stack", lambda model, slices, spacing, mode, desc=None: labels.copy())
    monkeypatch.setattr(app, "segment_pngs", lambda model, slices, spacings, mode, name: list(labels.copy()))
    monkeypatch.setattr(app, "quality_scores", lambda *a, **k: list(scores))
    return labels, real, scores


def scan(path, shape):
    """A volume whose sagittal slices have the phantom's shape (S, H, W), 1 mm voxels."""
    s, h, w = shape
    image = sitk.GetImageFromArray(np.random.default_rng(0).integers(0, 500, (h, w, s)).astype(np.int16))  # z, y, x
    sitk.WriteImage(image, str(path))
    return path


def written(path):
    image = sitk.ReadImage(str(path))
    return SagittalLayout.of(image, str(path)).to_slices(image)


@pytest.mark.parametrize("rule", ["extent_35", "none"])
def test_predict_applies_the_rule_to_a_volume_and_reports_each_slice(tmp_path, checkpoint, painted, rule):
    labels, real, scores = painted
    vol = scan(tmp_path / "scan.nii.gz", labels.shape)
    out = app.predict(checkpoint, vol, tmp_path / "labels.nii.gz", quality=("modes", 0.9, "full_pass"), volume_rule=rule)
    expected, removed = apply_rule(labels, (1.0, 1.0, 1.0), load_rule(rule), scores)
    assert np.array_equal(written(out), expected)
    rows = list(csv.DictReader(open(tmp_path / "labels_quality.csv")))
    if rule == "none":
        assert "rule_removed_mm3" not in rows[0]
        return
    assert np.array_equal(expected, real)
    per_slice = np.array([float(r["rule_removed_mm3"]) for r in rows])
    assert np.allclose(per_slice, removed["extent"]) and per_slice.sum() == ((labels > 0) & (real == 0)).sum()
    assert {r["rule_removed_by"] for r in rows if float(r["rule_removed_mm3"]) > 0} == {"extent"}


def test_the_cli_turns_the_rule_off_and_refuses_a_present_rule_without_quality(tmp_path, checkpoint, painted, capsys):
    labels = painted[0]
    vol = scan(tmp_path / "scan.nii.gz", labels.shape)
    assert app.main([str(checkpoint), str(vol), str(tmp_path / "raw.nii.gz"), "--volume-rule", "none"]) == 0
    assert np.array_equal(written(tmp_path / "raw.nii.gz"), labels)
    assert app.main([str(checkpoint), str(vol), str(tmp_path / "x.nii.gz"), "--volume-rule", "present_70",
                     "--quality", "none"]) == 2
    assert "keep --quality on" in capsys.readouterr().err and not (tmp_path / "x.nii.gz").exists()


def png_stack(root, n, shape, thickness):
    (root / "images").mkdir(parents=True)
    for i in range(n):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, shape).astype(np.uint8)).save(
            root / "images" / f"p1_slice{i + 10}.png")
    meta = {"pixel_spacing_mm": 1.0, **({"slice_thickness_mm": thickness} if thickness else {})}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize("thickness", [1.0, None])
def test_a_png_folder_is_a_volume_only_when_its_slices_are_one_stack(tmp_path, checkpoint, painted, thickness):
    labels, real, _ = painted
    folder = png_stack(tmp_path / "pngs", len(labels), labels.shape[1:], thickness)
    paths = app.predict(checkpoint, folder, tmp_path / "masks", quality=("modes", 0.9, "full_pass"),
                        volume_rule="extent_35")
    got = np.stack([np.array(Image.open(p)) for p in paths])
    assert np.array_equal(got, real if thickness else labels)  # no slice spacing: slices one by one, no rule
