"""Vertebral-body metrics on drawn slices: posterior elements are not errors; vertebra far from the spine is."""

import numpy as np
import pytest

from spine_synthseg.evaluation.body_metrics import vertebral_body_metrics
from spine_synthseg.structures import DISC, VERTEBRA

SPACING = (1.0, 1.0)


def spine(n_rows: int = 120, n_cols: int = 160):
    """Three bodies (cols 30-59) with discs between them; posterior elements of each level behind a 10 mm canal."""
    truth = np.zeros((n_rows, n_cols), np.uint8)
    whole = np.zeros_like(truth)
    for k in range(3):
        top = 10 + 35 * k
        truth[top:top + 25, 30:60] = VERTEBRA  # the body: what external_vb labels
        whole[top:top + 25, 30:60] = VERTEBRA
        whole[top + 5:top + 20, 70:120] = VERTEBRA  # laminae and spinous process (SPIDER's vertebra label has them)
        whole[top + 25:top + 35, 30:60] = DISC
    return truth, whole


def test_a_perfect_whole_vertebra_prediction_scores_perfectly():
    truth, whole = spine()
    m = vertebral_body_metrics(whole, truth, SPACING)
    assert m == {"vb_recall": 1.0, "vb_dice": 1.0, "vb_fp_far": 0.0}


def test_pedicles_within_the_cut_are_tolerated_only_up_to_it():
    truth, whole = spine()
    whole[15:30, 60:70] = VERTEBRA  # a pedicle joining body and posterior elements (off-midline slice)
    m = vertebral_body_metrics(whole, truth, SPACING)
    assert m["vb_recall"] == 1.0 and m["vb_fp_far"] == 0.0
    cut_px = 15 * 3  # 3 mm behind the posterior edge still counts: 15 rows x 3 columns
    assert m["vb_dice"] == pytest.approx(2 * truth.astype(bool).sum() / (2 * truth.astype(bool).sum() + cut_px))


def test_bowel_far_in_front_counts_as_error():
    truth, whole = spine()
    whole[20:40, 0:10] = VERTEBRA  # 200 mm^2 of "vertebra" 20 mm in front of the bodies, in their rows
    m = vertebral_body_metrics(whole, truth, SPACING)
    assert m["vb_fp_far"] == pytest.approx(200.0)  # the column band starts 15 mm in front of the bodies: all of it is far
    assert m["vb_dice"] == pytest.approx(2 * 2250 / (2 * 2250 + 200)) and m["vb_recall"] == 1.0  # 3 bodies of 25 x 30


def test_vertebra_in_a_disc_lowers_body_dice_and_missing_bodies_lower_recall():
    truth, whole = spine()
    pred = whole.copy()
    pred[35:45, 30:60] = VERTEBRA  # the first disc predicted as vertebra: between bodies, inside the cut region
    assert vertebral_body_metrics(pred, truth, SPACING)["vb_dice"] < 1.0
    half = whole.copy()
    half[10:35, 30:60] = 0  # the first body missed
    assert vertebral_body_metrics(half, truth, SPACING)["vb_recall"] == pytest.approx(2 / 3)


def test_unlabelled_vertebrae_above_the_labelled_ones_are_not_far():
    truth, whole = spine(n_rows=160)
    truth[:45] = 0  # the top body is not labelled (e.g. a thoracic level the dataset leaves out)
    m = vertebral_body_metrics(whole, truth, SPACING)
    assert m["vb_fp_far"] == 0.0


def test_spacing_in_mm_and_no_bodies():
    truth, whole = spine()
    whole[20:40, 0:10] = VERTEBRA
    assert vertebral_body_metrics(whole, truth, (0.5, 1.0))["vb_fp_far"] == pytest.approx(200 * 0.5)  # mm^2
    assert np.isnan(vertebral_body_metrics(whole, np.zeros_like(truth), SPACING)["vb_dice"])
