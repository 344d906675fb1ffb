"""Whole-volume metrics on small synthetic volumes whose answers are known, the volume family, and the volume path
of the evaluation being predict's."""

import json

import numpy as np
import pytest
import SimpleITK as sitk

from spine_synthseg.evaluation.volume_metrics import LATERAL_MM, SLICE_MM3, WALL_MM, volume_metrics
from spine_synthseg.structures import DISC, VERTEBRA

S, H, W = 21, 60, 150
FIRST, LAST = 6, 14            # labelled bodies on slices 6-14 (1 mm): lateral slices are 0, 1 and 19, 20
ROWS, FRONT, BACK = slice(20, 41), 10, 25


def truth() -> np.ndarray:
    t = np.zeros((S, H, W), np.uint8)
    t[FIRST:LAST + 1, ROWS, FRONT:BACK + 1] = VERTEBRA
    return t


def test_a_perfect_segmentation_with_posterior_elements():
    pred = truth()
    pred[FIRST:LAST + 1, ROWS, 32:41] = VERTEBRA  # posterior elements: behind the 3 mm cut, not an error
    pred[FIRST:LAST + 1, 41:44, FRONT:BACK + 1] = DISC
    m = volume_metrics(pred, truth(), (1.0, 1.0, 1.0))
    assert m["vb_dice3d"] == pytest.approx(1.0) and m["vb_recall3d"] == pytest.approx(1.0)
    assert m["false_spine_ml"] == 0 and m["false_spine_slices"] == 0 and m["fp_far_ml"] == 0
    assert m["n_lateral_slices"] == 4 and list(m["lateral"]) == [0, 1, 19, 20]
    assert (m["first"], m["last"], m["central"]) == (FIRST, LAST, 10)


def test_a_painted_lateral_column_is_false_spine():
    pred = truth()
    pred[[0, 1, 19, 20], ROWS, FRONT:BACK + 1] = VERTEBRA  # the column painted over the psoas, 21 x 16 mm a slice
    pred[2, ROWS, FRONT:BACK + 1] = VERTEBRA  # 4 mm beside the range: within the mask blocks' margin, not counted
    m = volume_metrics(pred, truth(), (1.0, 1.0, 1.0))
    per_slice = 21 * 16  # mm^3
    assert per_slice > SLICE_MM3 and LATERAL_MM == 4.0
    assert m["false_spine_ml"] == pytest.approx(4 * per_slice / 1000)
    assert m["false_spine_slices"] == 1.0
    assert m["vb_dice3d"] == pytest.approx(1.0)  # the labelled range is scored alone


def test_what_lies_behind_the_wall_is_not_counted_and_discs_always_are():
    pred = truth()
    pred[0, ROWS, BACK + int(WALL_MM) - 1] = VERTEBRA   # in front of wall + 5 mm: counted (21 mm^3)
    pred[0, ROWS, BACK + 10] = VERTEBRA            # a transverse process behind it: not counted
    pred[20, 30, 100] = DISC                       # a disc anywhere on a lateral slice: counted (1 mm^3)
    m = volume_metrics(pred, truth(), (1.0, 1.0, 1.0))
    assert m["false_spine_ml"] == pytest.approx(22 / 1000)
    assert m["false_spine_slices"] == 0.0  # neither slice holds more than 100 mm^3


def test_half_the_bodies_and_far_vertebra_and_anisotropic_spacing():
    pred = truth()
    pred[FIRST:LAST + 1, 20:31] = 0  # the upper half of every body missed
    pred[:, ROWS, 120:125] = VERTEBRA  # beyond 80 mm behind the central slice's back line: far
    m = volume_metrics(pred, truth(), (2.0, 1.0, 1.0))
    kept, labelled = 10 * 16 * 9, 21 * 16 * 9
    assert m["vb_recall3d"] == pytest.approx(kept / labelled)
    assert m["vb_dice3d"] == pytest.approx(2 * kept / (kept + labelled))
    assert m["fp_far_ml"] == pytest.approx(S * 21 * 5 * 2.0 / 1000)
    # slices are 2 mm apart now: slice 4 lies 4 mm beside the range (not lateral), 0-3 and 17-20 do
    assert list(m["lateral"]) == [0, 1, 2, 3, 17, 18, 19, 20]


def test_a_volume_without_lateral_slices_has_nan_share():
    t = np.zeros((5, H, W), np.uint8)
    t[:, ROWS, FRONT:BACK + 1] = VERTEBRA
    m = volume_metrics(t.copy(), t, (1.0, 1.0, 1.0))
    assert m["n_lateral_slices"] == 0 and np.isnan(m["false_spine_slices"]) and m["false_spine_ml"] == 0


def write_volume_folder(root, subjects=("S01", "S02")):
    """A volume_folder like external_dixon_volumes: 1 mm NIfTI volumes (x = sagittal) with body masks 1-5."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for subject in subjects:
        image = (rng.random((48, 40, 30)) * 60).astype(np.uint8)  # (z, y, x)
        mask = np.zeros_like(image)
        mask[10:38, 8:20, 10:20] = 3
        image[mask > 0] = 200
        for arr, folder in ((image, "images"), (mask, "masks")):
            sitk.WriteImage(sitk.GetImageFromArray(arr), str(root / folder / f"{subject}.nii.gz"))
    meta = {"structure_of_value": {"vertebra": [1, 2, 3, 4, 5]}, "test_subjects": list(subjects),
            "shift_validation_subjects": []}
    (root / "dataset.json").write_text(json.dumps(meta))
    return root


@pytest.mark.parametrize("mode", ["sliding_window", "full_pass", "large_window"])
def test_the_evaluation_segments_a_volume_as_predict_does(tmp_path, smoke_runs, mode):
    import spine_synthseg.apps.predict as app
    from spine_synthseg.evaluation.evaluate import evaluate_checkpoints
    from tests.helpers import compose_cfg

    root = write_volume_folder(tmp_path / "vols")
    cfg = compose_cfg(tmp_path / "run", [f"evaluation.dixon_volumes_source.root={root}", "evaluation.tests=[volumes]",
                                         f"evaluation.inference_mode={mode}", "evaluation.save_volumes=true",
                                         "evaluation.max_patients=null"])
    ckpt = smoke_runs["model_a"]["ckpt"]
    evaluate_checkpoints(cfg, {"model_a": ckpt}, tmp_path / "eval")
    for subject in ("S01", "S02"):
        out = app.predict(ckpt, root / "images" / f"{subject}.nii.gz", tmp_path / f"{subject}_{mode}.mha", mode=mode)
        predicted = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
        scored = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "eval" / "volumes" / "model_a" / "dixon_water_3d"
                                                            / f"{subject}.nii.gz")))
        np.testing.assert_array_equal(predicted, scored)
    rows = (tmp_path / "eval" / "metrics.csv").read_text().splitlines()
    # the default volume rule's rows and, beside them, the model's own labels (model_a+no_rule)
    assert sum(",volumes," in r and r.startswith("0,model_a,") for r in rows) == 2
    assert sum(",volumes," in r and r.startswith("0,model_a+no_rule,") for r in rows) == 2
    assert (tmp_path / "eval" / "volume_slices.csv").is_file()
    slices = (tmp_path / "eval" / "volume_slices.csv").read_text().splitlines()
    assert len(slices) == 1 + 2 * 30  # every slice of both volumes


def test_the_volume_families_hold_the_subjects_their_data_lists(tmp_path, data_root):
    from spine_synthseg.data import families
    from tests.helpers import compose_cfg

    catalog = families.families(families.catalog_of(compose_cfg(tmp_path)))
    meta = json.loads((data_root / "external_dixon_volumes" / "dataset.json").read_text())
    test = families.volumes(catalog["dixon_volumes"])
    shift = families.volumes(catalog["dixon_volumes_shift_val"])
    assert [v.subject for v in test] == sorted(meta["test_subjects"]) and len(test) == 24
    assert [v.subject for v in shift] == sorted(meta["shift_validation_subjects"]) and len(shift) == 12


def test_the_quality_flag_table_counts_what_it_catches():
    from spine_synthseg.evaluation.volume_report import qc_flag_table

    def row(lateral, false_spine, score):
        return {"model": "model_a", "patient": "S01", "lateral": lateral, "false_spine_mm3": false_spine,
                "qc_modes": score}
    rows = [row(True, 500, 0.5), row(True, 500, 0.99), row(True, 10, 0.5), row(True, 10, float("nan")),
            row(False, 6000, 0.5), row(False, 6000, 0.99)]
    (t,) = qc_flag_table(rows, {"model_a": 0.9})
    assert (t["lateral_slices"], t["false_spine_slices"], t["flagged_lateral"]) == (4, 2, 2)
    assert t["recall"] == 0.5 and t["precision"] == 0.5 and t["flagged_other_share"] == 0.5


@pytest.mark.slow
def test_the_volume_collector_writes_its_tables_and_figures(tmp_path, smoke_runs):
    """scripts/collect.py volumes on an evaluation of a small volume folder standing in for both volume families."""
    import shutil
    import subprocess
    import sys

    from spine_synthseg.config import PROJECT_ROOT
    from spine_synthseg.evaluation.evaluate import evaluate_checkpoints
    from tests.helpers import compose_cfg

    root = write_volume_folder(tmp_path / "vols", subjects=("S01", "S02", "S03"))
    (root / "dataset.json").write_text(json.dumps({**json.loads((root / "dataset.json").read_text()),
                                                   "shift_validation_subjects": ["S01", "S02", "S03"]}))
    overrides = [f"evaluation.dixon_volumes_source.root={root}", "evaluation.max_patients=null"]
    cfg = compose_cfg(tmp_path / "run", overrides + ["evaluation.tests=[volumes]", "evaluation.save_volumes=true",
                                                     "evaluation.quality_scores=[modes]"])
    mode = cfg.inference_mode
    evaluate_checkpoints(cfg, {"model_a": smoke_runs["model_a"]["ckpt"]}, tmp_path / "out" / f"test_{mode}")
    shutil.copytree(tmp_path / "out" / f"test_{mode}", tmp_path / "out" / f"shift_val_{mode}")
    import torch  # the smoke checkpoint stores no QC threshold: give it one, as ship_models.py --qc-only does

    ckpt = torch.load(smoke_runs["model_a"]["ckpt"], weights_only=False)
    ckpt["quality"] = {"score": "modes", "threshold": 0.9, "chosen_on": "a test"}
    torch.save(ckpt, tmp_path / "qc.ckpt")
    summary = tmp_path / "out" / f"shift_val_{mode}" / "summary.json"
    summary.write_text(json.dumps({**json.loads(summary.read_text()), "checkpoints": {"model_a": str(tmp_path / "qc.ckpt")}}))
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "collect.py"), "volumes", str(tmp_path / "res"),
                           str(tmp_path / "out"), "--", *overrides], capture_output=True, text=True, timeout=300,
                          encoding="utf-8", errors="replace")
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("qc_flag.csv", "shift_val_slices.csv", "test_slices.csv"):
        assert (tmp_path / "res" / name).is_file()
    for name in ("false_spine_profile.png", "volume_slices.png"):
        assert (tmp_path / "res" / name).stat().st_size > 10_000
    qc = (tmp_path / "res" / "qc_flag.csv").read_text().splitlines()
    assert len(qc) == 2 and qc[1].startswith("model_a,0.9")
