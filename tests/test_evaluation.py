import csv

import pytest
import torch

from spine_synthseg.data.records import DataError
from spine_synthseg.evaluation.evaluate import evaluate_checkpoints
from spine_synthseg.evaluation.perturbations import contrast_perturbation, resolution_degradation
from spine_synthseg.evaluation.test_sets import build_test_cases
from spine_synthseg.train import train
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


def test_test_cases_hold_only_test_patients_and_unchanged_labels(tmp_path, data_root):
    cfg = compose_cfg(tmp_path)
    cases, info = build_test_cases(cfg)
    standard = next(c for c in cases if c.test == "standard")
    assert set(standard.slices.patient_ids) == set(info["test_patients"])
    for case in cases:
        if case.test in ("contrast", "resolution"):
            assert case.slices is standard.slices  # perturbed images, the very same labels
            assert case.image.shape == standard.image.shape
    shift = next(c for c in cases if c.test == "protocol_shift")
    assert len(shift.slices) == 52 and not shift.slices.annotated[:, 2].all()


def test_evaluating_a_training_split_is_refused(tmp_path, data_root):
    with pytest.raises(DataError, match="overlaps training"):
        build_test_cases(compose_cfg(tmp_path, ["evaluation.test_split=train"]))


def test_smoke_evaluation_writes_all_files(tmp_path, data_root):
    cfg = compose_cfg(tmp_path / "run", ["evaluate_after_fit=false"])
    train(cfg)
    ckpt = str(tmp_path / "run" / "checkpoints" / "best.ckpt")
    out = tmp_path / "eval"
    summary = evaluate_checkpoints(cfg, {"model_a": ckpt, "model_b": ckpt}, out)
    for name in ("metrics.csv", "summary.md", "summary.json", "dice_vs_resolution.png", "dice_per_test.png",
                 "overlays_model_a_standard.png", "overlays_model_b_protocol_shift.png"):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").glob("events.*"))
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert {r["test"] for r in rows} == {"standard", "protocol_shift", "contrast", "resolution"}
    assert {r["structure"] for r in rows} == {"vertebra", "disc", "canal"}
    # the same checkpoint twice: every paired difference is exactly zero
    assert all(abs(d["diff_mean"]) < 1e-12 for d in summary["paired_differences"] if d["diff_mean"] == d["diff_mean"])
    md = (out / "summary.md").read_text()
    assert md.index("## standard") < md.index("## protocol_shift") < md.index("## contrast") < md.index("## resolution")
    with pytest.raises(DataError, match="does not exist"):
        evaluate_checkpoints(cfg, {"x": str(tmp_path / "missing.ckpt")}, out)
