"""Teaching the absence of spine: negatives for every model (training/negatives.py) and the generator's anatomy
beside the spine (synthesis/absence.py): rates match their settings, targets say what the image holds."""

import json

import pytest
import torch
from hydra.utils import instantiate

from spine_synthseg.config import compose_config
from spine_synthseg.errors import ConfigError
from spine_synthseg.structures import CANAL, DISC, VERTEBRA
from spine_synthseg.synthesis.absence import SpineAbsence, fill_nearest
from spine_synthseg.training.negatives import Negatives

H, W = 64, 48


def column_maps(b=8):
    """(structures, instances, regions): bodies (cols 14-25) alternating with discs, canal (26-29), posterior
    elements (30-35) on vertebra rows; 4 background regions in vertical strips."""
    s = torch.zeros((b, H, W), dtype=torch.long)
    inst = torch.zeros_like(s)
    for r in range(4, H - 4):
        level = r // 8
        body = VERTEBRA if level % 2 == 0 else DISC
        s[:, r, 14:26] = body
        inst[:, r, 14:26] = level + 1
        s[:, r, 26:30] = CANAL
        inst[:, r, 26:30] = 20
        if body == VERTEBRA:
            s[:, r, 30:36] = VERTEBRA
            inst[:, r, 30:36] = level + 1
    regions = (torch.arange(W) // 12).expand(b, H, W).clone()
    return s, inst, regions


def run_absence(kind, b=8, seed=0, **extra):
    stage = SpineAbsence(**{f"{kind}_prob": 1.0}, spacing_mm=1.0, **extra)
    s, inst, regions = column_maps(b)
    params = stage.sample(b, (H, W), torch.Generator().manual_seed(seed))
    batch = stage.apply(params, {"structures": s, "instances": inst, "bg_distance": torch.zeros_like(s)})
    return s, regions, batch, stage.paint(params, regions, batch, 4)


def test_a_spine_free_map_has_no_spine_and_fills_the_column_from_its_neighbours():
    s, regions, batch, painted = run_absence("free")
    assert not batch["structures"].any() and not batch["instances"].any()
    assert (batch["bg_distance"] == 4).all()  # the farthest band: nothing labelled left to measure from
    column = s > 0
    assert torch.equal(painted[~column], regions[~column])  # outside the column nothing changes
    assert set(painted[column].unique().tolist()) <= {1, 2, 3}  # the strips touching it; never the far strip 0


def test_a_ghost_holds_no_spine_label_and_covers_the_removed_column_as_one_region():
    s, regions, batch, painted = run_absence("ghost", ghost_width_mm=(0, 0))
    assert not batch["structures"].any()
    column = s > 0
    for i in range(s.shape[0]):
        inside = painted[i][column[i]]
        values, counts = inside.unique(return_counts=True)
        assert counts.max() >= 0.9 * inside.numel()  # one region over (nearly all of) the removed column


def test_partial_columns_hold_bodies_only_labelled_vertebra():
    s, _, batch, _ = run_absence("partial", partial_erode_mm=(0, 2))
    out = batch["structures"]
    assert out.any() and set(out.unique().tolist()) == {0, VERTEBRA}  # no disc, no canal
    assert not out[..., 26:].any()  # nothing at or behind the canal: the posterior elements are gone
    assert ((out > 0) <= (s == VERTEBRA)).all()  # only where a body was


def test_each_kind_is_drawn_at_its_rate():
    stage = SpineAbsence(free_prob=0.1, ghost_prob=0.2, partial_prob=0.3, spacing_mm=1.0)
    kind = stage.sample(20000, (H, W), torch.Generator().manual_seed(1)).kind
    shares = [(kind == k).float().mean().item() for k in range(4)]
    assert shares == pytest.approx([0.4, 0.1, 0.2, 0.3], abs=0.015)
    with pytest.raises(ConfigError, match="sum|> 1"):
        SpineAbsence(free_prob=0.6, ghost_prob=0.6, spacing_mm=1.0)


def test_fill_nearest_takes_the_nearest_known_value():
    values = torch.tensor([[[1, 1, 9, 9, 2, 2]]])
    unknown = torch.tensor([[[False, False, True, True, False, False]]])
    assert fill_nearest(values, unknown).tolist() == [[[1, 1, 1, 2, 2, 2]]]


def test_negatives_come_at_their_rate_with_an_all_background_target():
    neg = Negatives(0.25)
    s, _, _ = column_maps(4000)
    image = torch.rand((4000, 1, H, W), generator=torch.Generator().manual_seed(0))
    out, target, chosen = neg(image, s, torch.Generator().manual_seed(2))
    assert chosen.float().mean().item() == pytest.approx(0.25, abs=0.02)
    assert not target[chosen].any()  # a negative's target is all background
    assert torch.equal(target[~chosen], s[~chosen]) and torch.equal(out[~chosen], image[~chosen])
    assert not torch.equal(out[chosen], image[chosen])


def test_a_shifted_negative_shows_what_lies_beside_the_spine_and_none_of_it():
    neg = Negatives(0.5, kinds=["shifted"])
    s, _, _ = column_maps(64)
    image = torch.arange(W, dtype=torch.float32).expand(64, 1, H, W).clone() / W  # each column its own value
    out, target, chosen = neg(image, s, torch.Generator().manual_seed(3))
    visible = {round(v * W) for v in out[chosen].unique().tolist()} - {0}
    assert visible and visible <= set(range(1, 14)) | set(range(36, W))  # columns in front of or behind the spine
    assert not target[chosen].any()


def test_negatives_reach_every_model_at_the_same_rate():
    for experiment in ("model_a", "model_b", "model_b_aug", "model_c"):
        cfg = compose_config([f"experiment={experiment}", "negatives=quarter"])
        assert instantiate(cfg.data.negatives).rate == 0.25
    with pytest.raises(ConfigError, match="rate"):
        Negatives(0.6)
    with pytest.raises(ConfigError, match="kinds"):
        Negatives(0.1, kinds=["psoas"])


def write_run(folder, name, dice, false_spine, patients=("p1", "p2", "p3", "p4", "p5")):
    """An evaluation's metrics.csv with the three axes' rows, the volume rows with and without the rule."""
    from spine_synthseg.evaluation.aggregation import METRICS
    from spine_synthseg.evaluation.collect import write_csv

    rows = []
    for i, p in enumerate(patients):
        base = {"seed": 0, "image": f"{p}_1", "patient": p, "series": p, "sequence": "s", "appearance": "",
                "acq_spacing_mm": "", **dict.fromkeys(METRICS, float("nan"))}
        for structure in ("vertebra", "disc", "canal"):
            rows.append({**base, "model": f"absence_{name}", "test": "validation", "variant": "t2_space",
                         "structure": structure, "dice": dice + 0.01 * i})
            rows.append({**base, "model": f"absence_{name}", "test": "shift_validation", "variant": "t2_tse",
                         "structure": structure, "dice": 0.4 + 0.01 * i})
        rows.append({**base, "model": f"absence_{name}", "test": "shift_validation", "variant": "dixon_water",
                     "structure": "vertebral_body", "vb_dice": 0.9})
        for model, fs in ((f"absence_{name}", false_spine), (f"absence_{name}+no_rule", 40.0)):
            rows.append({**base, "model": model, "test": "shift_validation_volumes", "variant": "dixon_water_3d",
                         "structure": "vertebral_body", "vb_dice3d": 0.85, "false_spine_ml": fs + i,
                         "false_spine_slices": 0.5})
    write_csv(folder / "evaluation" / "metrics.csv", rows)
    (folder / "metrics.json").write_text(json.dumps({"run_name": f"absence_{name}", "commit": "abc", "seed": 0,
                                                     "max_steps": 800, "train_seconds": 1.0}))
    return folder


def test_the_absence_collector_pairs_each_run_with_its_baseline_and_names_candidates(tmp_path):
    from spine_synthseg.evaluation.absence_screen import collect

    runs = [write_run(tmp_path / "0", "a_base", 0.80, 5.0), write_run(tmp_path / "1", "a_neg25", 0.80, 1.0),
            write_run(tmp_path / "2", "a_ghost", 0.70, 0.5), write_run(tmp_path / "3", "b_aug_base", 0.85, 8.0)]
    named = collect(tmp_path / "res", runs, 200, 0.95, 0, -0.01)
    assert named["a"]["candidates"] == ["a_neg25"]  # false spine falls, in-domain holds
    assert any("in-domain CI low" in r for r in named["a"]["runs"]["a_ghost"])  # it cut in-domain Dice
    assert named["b_aug"]["candidates"] == []  # a baseline alone is no candidate
    for name in ("per_patient.csv", "runs.csv", "paired.csv", "candidates.json", "training.csv"):
        assert (tmp_path / "res" / name).is_file()
    assert (tmp_path / "res" / "front.png").stat().st_size > 10_000
    paired = (tmp_path / "res" / "paired.csv").read_text()
    assert "a_neg25" in paired and "b_aug" not in paired.split("\n", 1)[1]  # no B+aug lever run, so no B+aug pair


def test_negatives_off_draw_nothing():
    """A run without negatives keeps the random stream it had before they existed (same seed, same run)."""
    s, _, _ = column_maps(4)
    image = torch.rand((4, 1, H, W))
    rng = torch.Generator().manual_seed(5)
    out, target, chosen = Negatives(0.0)(image, s, rng)
    assert out is image and target is s and not chosen.any()
    assert torch.equal(rng.get_state(), torch.Generator().manual_seed(5).get_state())
