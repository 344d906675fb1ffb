"""The command-line scripts that write committed files, on the shared data: each re-makes what is committed
(results/data_facts.json, data/manifest*.sha256) or says what differs."""

from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.structures import CANAL, VERTEBRA


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_posterior_share_counts_vertebra_behind_the_canals_front():
    s = np.zeros((4, 10), np.uint8)
    s[1:3, 5:7] = CANAL
    s[1:3, 1:4] = VERTEBRA  # in front of the canal
    s[1, 8:10] = VERTEBRA  # behind it: 2 of 8 vertebra pixels in canal rows
    s[0, 0:5] = VERTEBRA  # a row without canal: not counted
    assert script("analyse_data").posterior_share(s) == 2 / 8
    assert np.isnan(script("analyse_data").posterior_share(np.zeros((3, 3), np.uint8)))


def test_analyse_data_remakes_the_committed_data_facts(tmp_path, data_root):
    out = tmp_path / "facts.json"
    script("analyse_data").main(out)
    assert json.loads(out.read_text()) == json.loads((PROJECT_ROOT / "results" / "data_facts.json").read_text())


def test_data_manifest_checks_a_copy_and_names_a_changed_file(tmp_path, data_root, capsys):
    manifest = script("data_manifest")
    assert manifest.check(data_root, "bytes", ("spider_t2tse",)) == 0
    copy = tmp_path / "data"
    shutil.copytree(data_root / "spider_t2tse", copy / "spider_t2tse")
    changed = sorted((copy / "spider_t2tse" / "images").glob("*.png"))[0]
    changed.write_bytes(changed.read_bytes() + b"\0")
    (copy / "spider_t2tse" / "stray.txt").write_text("x")
    assert manifest.check(copy, "bytes", ("spider_t2tse",)) == 1
    printed = capsys.readouterr().out
    assert f"DIFFERS  spider_t2tse/images/{changed.name}" in printed and "EXTRA    spider_t2tse/stray.txt" in printed
    assert manifest.check(copy, "pixels", ("spider_t2tse",)) == 1  # the bytes appended change no pixel, the extra file counts


def test_optuna_export_writes_every_trial_and_the_front(tmp_path):
    import optuna

    realism = script("optuna_realism")
    storage = tmp_path / "study.db"
    s = realism.study(storage=storage)
    for number, (a, b) in enumerate([(0.70, 0.60), (0.75, 0.50), (0.65, 0.55)]):
        s.add_trial(optuna.trial.create_trial(values=[a, b], params={"strength": 0.1 * number},
                                              distributions={"strength": optuna.distributions.FloatDistribution(0, 1)},
                                              user_attrs={"shift_dixon": b, "shift_tse": b, "commit": "abc"}))
    realism.export(storage, tmp_path)
    rows = {int(r["trial"]): r for r in __import__("csv").DictReader(open(tmp_path / "optuna_trials.csv"))}
    assert [rows[k]["on_front"] for k in range(3)] == ["True", "True", "False"]  # trial 2 is dominated by trial 0
    assert float(rows[1]["in_domain"]) == 0.75 and (tmp_path / "optuna_front.png").stat().st_size > 5_000


def test_generator_variants_gallery_draws_every_variant(tmp_path, data_root):
    out = tmp_path / "variants.png"
    script("generator_variants_gallery").main(out, None, ("source=sample",))
    assert out.stat().st_size > 20_000


def test_window_failure_figure_draws_the_named_series(tmp_path, smoke_runs, monkeypatch):
    import sys

    out = tmp_path / "window.png"
    monkeypatch.setattr(sys, "argv", ["window_failure_figure.py", str(out), "--family", "shift_validation",
                                      "--series", "VB3_01", "--modes", "sliding_window", "full_pass", "--",
                                      f"model_a={smoke_runs['model_a']['ckpt']}"])
    script("window_failure_figure").main()
    assert out.stat().st_size > 5_000
