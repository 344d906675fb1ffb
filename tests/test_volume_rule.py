"""Volume rules (models/volume_rule.py) on a synthetic predicted volume: a real column that drifts across slices
from row to row (scoliosis) and a column painted far beside it (the psoas); every rule of conf/volume_rule/ removes
the painted column and keeps the real one."""

import numpy as np
import pytest

from spine_synthseg.data.stacks import consecutive_runs
from spine_synthseg.errors import ConfigError
from spine_synthseg.models.volume_rule import VolumeRule, apply_rule, load_rule, midline, removed_by, rule_names
from spine_synthseg.structures import CANAL, DISC, VERTEBRA

S, H, W = 121, 96, 64      # 1 mm voxels: slices across the body, rows head -> feet, columns anterior -> posterior
DRIFT = 8                  # slices the real column's midline moves from the top row to the bottom row


def centre_of_row(r):
    return 60 + DRIFT * (r - (H - 1) / 2) / ((H - 1) / 2) / 2  # 56 .. 64


def phantom(painted_at_mm: float = 44.0):
    """(predicted labels, the real column alone): bodies and discs 12 mm either side of the midline, canal 6 mm,
    posterior elements 20 mm; a painted column (vertebra and disc blocks in front of the canal, a little canal)
    from painted_at_mm to painted_at_mm + 6 mm on one side."""
    real = np.zeros((S, H, W), np.uint8)
    painted = np.zeros_like(real)
    for r in range(4, H - 4):
        body = VERTEBRA if (r // 12) % 2 == 0 else DISC
        m = centre_of_row(r)
        for s in range(S):
            d = abs(s - m)
            if d <= 12:
                real[s, r, 12:38] = body
            if d <= 6:
                real[s, r, 38:48] = CANAL
            if d <= 20:
                real[s, r, 48:58] = VERTEBRA if body == VERTEBRA else 0
            if painted_at_mm <= s - m <= painted_at_mm + 6:
                painted[s, r, 10:38] = body
                painted[s, r, 38:40] = CANAL if r % 3 == 0 else 0
    return np.where(painted > 0, painted, real), real


def scores_of(labels, real):
    """A quality score per slice: high where the real column is, low where only the painted one is, NaN empty."""
    has_real, has_any = real.any(axis=(1, 2)), labels.any(axis=(1, 2))
    return np.where(has_real, 0.95, np.where(has_any, 0.5, np.nan))


@pytest.mark.parametrize("name", [n for n in rule_names() if n != "none"])
def test_every_rule_removes_a_painted_column_and_keeps_the_drifting_real_one(name):
    labels, real = phantom()
    out, removed = apply_rule(labels, (1.0, 1.0, 1.0), load_rule(name), scores_of(labels, real))
    assert np.array_equal(out, real), name
    gone = (labels > 0) & (out == 0)
    assert sum(r.sum() for r in removed.values()) == gone.sum()  # 1 mm^3 voxels: every removed voxel accounted


def test_no_rule_changes_nothing():
    labels, real = phantom()
    out, removed = apply_rule(labels, (1.0, 1.0, 1.0), load_rule("none"), None)
    assert np.array_equal(out, labels) and not any(r.any() for r in removed.values())


def test_midline_follows_a_scoliotic_drift_from_the_canal():
    labels, _ = phantom()
    mid = midline(labels)
    rows = np.arange(4, H - 4)
    assert np.abs(mid[rows] - centre_of_row(rows)).max() <= 1.0
    assert mid[rows[-1]] - mid[rows[0]] > DRIFT - 2  # it drifts, not one straight midline


def test_extent_needs_the_drifting_midline():
    """With the column 8 slices off between top and bottom, a 20 mm extent keeps bodies (12 mm) and removes a column
    painted from 26 mm only if the midline follows the drift (a straight midline would miss by up to 4 mm)."""
    labels, real = phantom(painted_at_mm=26.0)
    rule = VolumeRule("test", extent_mm={"canal": 15, "disc": 20, "body": 20, "posterior": 50})
    out, _ = apply_rule(labels, (1.0, 1.0, 1.0), rule)
    assert np.array_equal(out, real)


def test_extent_in_mm_not_voxels():
    """At 2 mm slices the same 10 mm extent keeps half as many slices: 20 (or 21) and 10 (or 11)."""
    labels, _ = phantom(painted_at_mm=44.0)
    rule = VolumeRule("test", extent_mm={"body": 10.0, "disc": 10.0})
    at_1, _ = apply_rule(labels, (1.0, 1.0, 1.0), rule)
    at_2, _ = apply_rule(labels, (2.0, 1.0, 1.0), rule)
    width = lambda x: np.flatnonzero(x[:, 40, 12:36].any(1)).size  # noqa: E731  (slices with body on one row)
    assert width(at_1) in (20, 21) and width(at_2) in (10, 11) and abs(width(at_1) - 2 * width(at_2)) <= 1


def test_present_stops_at_the_first_absent_slice_and_empty_slices_do_not_stop_it():
    labels, real = phantom()
    scores = scores_of(labels, real)
    rule = VolumeRule("test", present={"threshold": 0.7, "min_mm": 15})
    out, removed = apply_rule(labels, (1.0, 1.0, 1.0), rule, scores)
    assert np.array_equal(out, real)
    assert removed["present"].sum() == ((labels > 0) & (real == 0)).sum()
    with pytest.raises(ConfigError, match="quality"):
        apply_rule(labels, (1.0, 1.0, 1.0), rule, None)


def test_removed_by_names_the_parts():
    labels, real = phantom()
    _, removed = apply_rule(labels, (1.0, 1.0, 1.0), load_rule("extent_35_present_70"), scores_of(labels, real))
    painted_slice = int(np.flatnonzero(((labels > 0) & (real == 0)).any(axis=(1, 2)))[0])
    mm3, by = removed_by(removed, painted_slice)
    assert mm3 > 0 and by == "present"
    assert removed_by(removed, 60) == (0.0, "")


def test_a_stack_without_spine_and_bad_rules():
    empty = np.zeros((5, 20, 20), np.uint8)
    out, _ = apply_rule(empty, (1.0, 1.0, 1.0), load_rule("extent_35_connected"))
    assert not out.any()
    for node, match in [({"extent_mm": {"psoas": 3}}, "parts"), ({"extent_mm": {"body": -1}}, "positive"),
                        ({"present": {"threshold": 2, "min_mm": 0}}, "threshold"), ({"connectivity": 4}, "6, 18"),
                        ({"band": 3}, "unknown keys")]:
        with pytest.raises(ConfigError, match=match):
            VolumeRule.from_config(node)
    with pytest.raises(ConfigError, match="conf/volume_rule"):
        load_rule("no_such_rule")


def test_consecutive_runs_make_stacks_only_of_one_series_of_consecutive_names():
    names = ["118_slice50", "118_slice51", "118_slice52", "118_slice60", "11_slice3", "11_slice4", "x"]
    series = ["118", "118", "118", "118", "11", "11", "x"]
    shapes = [(8, 8)] * 5 + [(9, 8), (8, 8)]
    runs = consecutive_runs(names, series, shapes, [(1.0, 1.0)] * 7)
    assert runs == [[0, 1, 2], [3], [4], [5], [6]]
