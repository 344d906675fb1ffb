import csv
from collections import defaultdict

import numpy as np
import pytest
import torch

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.cases import build_cases
from spine_synthseg.evaluation.evaluate import evaluate_checkpoints
from spine_synthseg.evaluation.perturbations import contrast_perturbation, resolution_degradation
from tests.helpers import compose_cfg


def test_resolution_degradation_operator():
    x = torch.rand(2, 1, 64, 48, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(resolution_degradation(x, 1.5, 1.5, False), x, atol=1e-5)
    thick = resolution_degradation(x, 6.0, 1.5, thick_slice=True)
    assert thick.shape == x.shape
    # thick-slice along rows: each column becomes smooth along the rows, rows stay sharp along columns
    along_rows = thick.diff(dim=2).abs().mean()  # superior-inferior: blurred
    along_cols = thick.diff(dim=3).abs().mean()  # anterior-posterior: untouched
    assert along_rows < 0.2 * x.diff(dim=2).abs().mean()
    assert along_cols > 3 * along_rows
    with pytest.raises(ValueError, match="finer"):
        resolution_degradation(x, 1.0, 1.5, False)


def test_contrast_perturbations():
    x = torch.linspace(0, 1, 101).view(1, 1, 1, 101)
    assert torch.allclose(contrast_perturbation(x, "inversion"), 1 - x)
    assert torch.allclose(contrast_perturbation(x, "gamma_2.0"), x**2)
    shuffled = contrast_perturbation(x, "piecewise_shuffle")
    assert shuffled.min() >= 0 and shuffled.max() <= 1
    assert (shuffled.diff(dim=-1) < 0).any()  # non-monotone
    with pytest.raises(ValueError, match="Unknown contrast perturbation"):
        contrast_perturbation(x, "solarise")


def test_cases_hold_only_test_patients_and_unchanged_labels(tmp_path, data_root):
    cfg = compose_cfg(tmp_path, ["evaluation.max_patients=null"])
    cases, info = build_cases(cfg)
    standard = next(c for c in cases if c.test == "standard")
    assert {r.patient_id for r in standard.records} == set(info["test_patients"])
    for case in cases:
        if case.test in ("contrast", "resolution"):
            assert case.records is standard.records  # perturbed images, the very same labels
            assert case.image(0).shape == standard.image(0).shape
    tse = next(c for c in cases if c.variant == "t2_tse")
    n_tse = len(list((data_root / "spider_t2tse" / "images").glob("*.png")))
    held_out = set(cfg.evaluation.tse_shift_validation.series)
    assert not {r.patient_id for r in tse.records} & held_out  # the shift-validation third is not a test
    assert len(tse.records) == n_tse - 18 and 0 < sum(r.annotated[2] for r in tse.records) < len(tse.records)
    mid = next(c for c in cases if c.variant == "t2_tse_mid")
    assert 0 < len(mid.records) < sum(r.annotated[2] for r in tse.records)  # labelled canal area, not any pixel
    external = [c for c in cases if c.test == "external"]
    assert {c.variant for c in external} == {"t1_like", "t2_like"} and all(c.scoring == "bodies" for c in external)
    assert sum(len(c.records) for c in external) == len(list((data_root / "external_vb" / "images").glob("*.png")))


def test_prediction_never_sees_the_mask(tmp_path, smoke_runs):
    """Whole-slice protocol: blanking a slice's mask changes nothing in its prediction."""
    from dataclasses import replace

    from spine_synthseg.models.checkpoint import load_checkpoint
    from spine_synthseg.models.inference import segment_slices

    cfg = compose_cfg(tmp_path, ["evaluation.tests=[standard]"])
    case = build_cases(cfg)[0][0]
    model = load_checkpoint(smoke_runs["model_a"]["ckpt"])
    blank = replace(case, records=[replace(r, structures=r.structures * 0) for r in case.records[:3]])
    before = segment_slices(model, [case.image(i) for i in range(3)], [r.spacing_mm for r in case.records[:3]],
                            mode=cfg.inference_mode)
    after = segment_slices(model, [blank.image(i) for i in range(3)], [r.spacing_mm for r in blank.records],
                           mode=cfg.inference_mode)
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert before[0].shape == case.records[0].structures.shape  # scored on the slice's own grid


def test_label_crop_protocol_is_an_explicit_option(tmp_path, data_root):
    whole = build_cases(compose_cfg(tmp_path, ["evaluation.tests=[standard]"]))[0][0]
    cropped = build_cases(compose_cfg(tmp_path, ["evaluation.tests=[standard]", "evaluation.label_crop_mm=[240,192]"]))[0][0]
    r = cropped.records[0]
    assert r.image.shape == tuple(round(mm / s) for mm, s in zip((240, 192), r.spacing_mm))
    assert r.image.shape != whole.records[0].image.shape


def test_validation_and_dixon_families_hold_their_own_patients(tmp_path, data_root):
    import json

    cfg = compose_cfg(tmp_path, ["evaluation.max_patients=null",
                                 "evaluation.tests=[validation,shift_validation,external_dixon,standard]"])
    cases, info = build_cases(cfg)
    by_test = {(c.test, c.variant): c for c in cases}
    assert {r.patient_id for r in by_test["validation", "t2_space"].records} == set(info["val_patients"])
    assert not set(info["val_patients"]) & set(info["test_patients"])
    meta = json.loads((data_root / "external_dixon" / "dataset.json").read_text())
    shift = {r.patient_id for r in by_test["shift_validation", "dixon_water"].records}
    test = {r.patient_id for r in by_test["external_dixon", "dixon_water"].records}
    assert shift == set(meta["shift_validation_subjects"]) and test == set(meta["test_subjects"])
    assert len(shift) == 12 and len(test) == 24 and not shift & test
    assert by_test["external_dixon", "dixon_water"].scoring == by_test["shift_validation", "dixon_water"].scoring == "bodies"
    tse = by_test["shift_validation", "t2_tse"]
    assert {r.patient_id for r in tse.records} == set(cfg.evaluation.tse_shift_validation.series)
    assert tse.scoring == "structures" and len(tse.records) == 18


def test_tse_shift_validation_third_is_the_committed_stratified_draw(tmp_path, data_root):
    from spine_synthseg.config import to_dict
    from spine_synthseg.data.catalog import load_native
    from dataclasses import replace

    from spine_synthseg.data import families
    from spine_synthseg.evaluation.cases import draw_shift_validation_series, mid_sagittal

    cfg = compose_cfg(tmp_path, [])
    ev = cfg.evaluation
    records = load_native(to_dict(ev.shift_source))
    committed = list(ev.tse_shift_validation.series)
    assert draw_shift_validation_series(records, ev.mid_sagittal_canal_mm2, ev.tse_shift_validation.seed) == committed
    mid = {r.patient_id for r in mid_sagittal(records, ev.mid_sagittal_canal_mm2)}
    series = {r.patient_id for r in records}
    assert len(set(committed) & mid) == round(len(mid) / 3)  # a third of the mid-sagittal series
    assert len(set(committed) - mid) == round(len(series - mid) / 3)
    catalog = families.families(families.catalog_of(cfg))  # the catalogue's two parts of the TSE series
    val, test = (families.records(catalog[name], loaded={}) for name in ("tse_shift_val", "tse"))
    assert len(val) + len(test) == len(records) and not {r.patient_id for r in val} & {r.patient_id for r in test}
    wrong = replace(catalog["tse"], subjects={"series": ["9999"], "exclude": True})
    with pytest.raises(DataError, match="draw_tse_shift_validation"):
        families.records(wrong)


def test_guard_refuses_training_and_validation_patients(tmp_path, data_root):
    from dataclasses import replace

    from spine_synthseg.evaluation.run_split import config_split, guard

    cfg = compose_cfg(tmp_path, ["evaluation.tests=[validation,standard]"])
    split = config_split(cfg)
    cases, _ = build_cases(cfg, split)
    guard(cases, split)  # validation patients in the validation family only: fine
    standard = next(c for c in cases if c.test == "standard")
    validation = next(c for c in cases if c.test == "validation")
    with pytest.raises(DataError, match=rf"standard .*{validation.records[0].patient_id}"):
        guard([replace(standard, records=standard.records + validation.records[:1])], split)
    leaked = {**split, "train": split["train"] + [validation.records[0].patient_id]}
    with pytest.raises(DataError, match="validation"):
        guard([validation], leaked)


def test_smoke_evaluation_writes_all_files(tmp_path, smoke_runs):
    # files and tables: the faster mode and one patient per family
    cfg = compose_cfg(tmp_path / "run", ["evaluation.inference_mode=full_pass", "evaluation.max_patients=1",
                                         "evaluation.surface_distance_tests=[standard]"])
    out = tmp_path / "eval"
    checkpoints = {"model_a": smoke_runs["model_a"]["ckpt"], "model_b": smoke_runs["model_b"]["ckpt"]}
    summary = evaluate_checkpoints(cfg, checkpoints, out)
    for name in ("metrics.csv", "summary.md", "summary.json", "dice_vs_resolution.png", "dice_per_test.png",
                 "overlays_model_a_standard.png", "overlays_model_b_protocol_shift.png", "overlays_model_a_external.png",
                 "overlays_model_b_external_dixon.png"):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").glob("events.*"))
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert {r["test"] for r in rows} == {"standard", "protocol_shift", "external", "external_dixon", "volumes", "contrast",
                                         "resolution"}
    assert (out / "volume_slices.csv").is_file()  # every slice of the whole volume scored
    assert {r["seed"] for r in rows} == {"0"}  # the checkpoints' own training seed
    assert {r["structure"] for r in rows} == {"vertebra", "disc", "canal", "vertebral_body"}
    assert all(r["vb_dice"] != "nan" or r["structure"] != "vertebral_body" for r in rows if r["test"] != "volumes")
    assert all(r["vb_dice3d"] not in ("nan", "") for r in rows if r["test"] == "volumes")
    # paired differences recomputed from metrics.csv: per patient, mean over images of the per-image mean Dice
    per_image = defaultdict(list)
    for r in rows:
        if r["test"] == "standard" and r["dice"] != "nan":
            per_image[(r["model"], r["patient"], r["image"])].append(float(r["dice"]))
    patient = defaultdict(list)
    for (model, pid, _), values in per_image.items():
        patient[(model, pid)].append(np.mean(values))
    pids = sorted({pid for _, pid in patient})
    expected = np.mean([np.mean(patient[("model_a", p)]) - np.mean(patient[("model_b", p)]) for p in pids])
    diff = next(d for d in summary["paired_differences"]
                if d["test"] == "standard" and d["structure"] == "mean" and d["metric"] == "dice")
    assert diff["diff_mean"] == pytest.approx(expected, abs=1e-9) and diff["n_patients"] == len(pids)
    assert diff["ci_low"] <= diff["diff_mean"] <= diff["ci_high"]
    md = (out / "summary.md").read_text()
    assert md.index("## standard (real") < md.index("## protocol_shift") < md.index("## external") < md.index("## contrast (home-field")
    with pytest.raises(DataError, match="does not exist"):
        evaluate_checkpoints(cfg, {"x": str(tmp_path / "missing.ckpt")}, out)
