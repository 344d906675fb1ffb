"""The volume-rule screen (evaluation/rule_screen.py): the adoption rule on a known table, and the whole screen on a
smoke checkpoint, a small volume folder and the TSE shift-validation slices (slices of unknown spacing stay alone)."""

import csv
import json

from omegaconf import open_dict

from spine_synthseg.evaluation.rule_screen import decide, run_screen, stacks
from spine_synthseg.models.volume_rule import load_rule
from tests.helpers import compose_cfg
from tests.test_volume_metrics import write_volume_folder

CHECKS = [{"test": "validation", "variant": "t2_space", "structure": "mean", "metric": "dice"},
          {"test": "shift_validation_volumes", "variant": "v", "structure": "vertebral_body", "metric": "vb_dice3d"}]


def long_rows(model, rule, dice, vb, false_spine, patients=("p1", "p2", "p3", "p4")):
    rows = []
    for i, p in enumerate(patients):
        for test, variant, structure, metric, value in (
                ("validation", "t2_space", "mean", "dice", dice + 0.01 * i),
                ("shift_validation_volumes", "v", "vertebral_body", "vb_dice3d", vb + 0.01 * i),
                ("shift_validation_volumes", "v", "vertebral_body", "false_spine_ml", false_spine + i)):
            rows.append({"seed": "0", "model": f"{model}+{rule}", "test": test, "variant": variant,
                         "structure": structure, "metric": metric, "patient": p, "value": value})
    return rows


def test_a_rule_is_adopted_only_if_no_model_loses_and_false_spine_falls():
    long = []
    for model in ("model_a", "model_b"):
        long += long_rows(model, "none", 0.80, 0.85, 30)
        long += long_rows(model, "safe", 0.80, 0.85, 10)      # false spine falls, nothing lost
        long += long_rows(model, "safer", 0.80, 0.85, 20)     # falls less
        long += long_rows(model, "useless", 0.80, 0.85, 30)   # nothing falls
    long += long_rows("model_a", "cutting", 0.70, 0.85, 0) + long_rows("model_b", "cutting", 0.80, 0.85, 0)
    rules = ["none", "safe", "safer", "useless", "cutting"]
    paired_rows, choice = decide(long, ["model_a", "model_b"], rules, CHECKS, -0.01, 200, 0.95, 0)
    verdicts = choice["candidates"]
    assert verdicts["safe"]["adopt"] and verdicts["safer"]["adopt"] and choice["chosen"] == "safe"
    assert not verdicts["useless"]["adopt"] and "does not fall" in verdicts["useless"]["reasons"][0]
    assert not verdicts["cutting"]["adopt"]
    assert verdicts["cutting"]["reasons"] == ["model_a: dice on validation/t2_space CI low -0.1000 <= -0.01"]
    assert {r["rule"] for r in paired_rows} == set(rules) - {"none"}


def test_the_screen_writes_every_candidate_on_every_family(tmp_path, smoke_runs):
    root = write_volume_folder(tmp_path / "vols", subjects=("S01", "S02"))
    meta = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps({**meta, "shift_validation_subjects": ["S01", "S02"]}))
    cfg = compose_cfg(tmp_path / "run", ["+rule_screen=default", f"evaluation.dixon_volumes_source.root={root}",
                                         "evaluation.tests=[shift_validation,shift_validation_volumes]"])
    with open_dict(cfg):
        cfg.rule_screen.families = ["tse_shift_val", "dixon_volumes_shift_val"]
        cfg.rule_screen.checks = [c for c in cfg.rule_screen.checks if c.family in cfg.rule_screen.families]
    rules = {name: load_rule(name) for name in ("none", "extent_35", "connected")}
    kept = {}
    choice = run_screen(cfg, {"model_a": smoke_runs["model_a"]["ckpt"]}, rules, tmp_path / "out", {"model_a": kept})
    rows = list(csv.DictReader(open(tmp_path / "out" / "rows.csv")))
    for rule in rules:
        mine = [r for r in rows if r["model"] == f"model_a+{rule}"]
        assert {r["test"] for r in mine} == {"shift_validation", "shift_validation_volumes"}
        assert sum(r["test"] == "shift_validation_volumes" for r in mine) == 2
    assert set(choice["candidates"]) == {"extent_35", "connected"} and choice["chosen"] in ("none", *choice["candidates"])
    assert (tmp_path / "out" / "paired.csv").is_file() and set(kept) == {"S01", "S02"}
    assert json.loads((tmp_path / "out" / "choice.json").read_text())["rules"]["extent_35"]["extent_mm"]["body"] == 35


def test_space_slices_form_stacks_per_patient_and_tse_slices_stay_alone(tmp_path, data_root):
    from spine_synthseg.data import families
    from spine_synthseg.evaluation.run_split import config_split
    from spine_synthseg.evaluation.rule_screen import slice_spacing

    cfg = compose_cfg(tmp_path)
    catalog = families.families(families.catalog_of(cfg))
    space = families.records(catalog["space_val"], config_split(cfg))
    groups = stacks(space, slice_spacing(data_root / "spider_t2space"))
    assert len(groups) == len({r.patient_id for r in space})  # consecutive slices: one stack per patient
    assert slice_spacing(data_root / "spider_t2tse") is None
