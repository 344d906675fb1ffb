"""The two validation axes of the realism screen (evaluation/axes.py) on hand-made long tables."""

import numpy as np
import pytest

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.axes import AXES, pareto_front, run_values, summarise_axes


def long_rows(variant, seed, values):
    """values: {axis: [per-patient values]} -> long-table rows of that variant and seed."""
    rows = []
    for axis, vals in values.items():
        test, var, structure, metric = AXES[axis]
        rows += [{"seed": str(seed), "model": variant, "test": test, "variant": var, "structure": structure,
                  "metric": metric, "patient": f"{axis}_p{i}", "value": v} for i, v in enumerate(vals)]
    return rows


def test_shift_is_the_mean_of_its_two_parts():
    rows = long_rows("a", 0, {"in_domain": [0.8, 0.6], "shift_dixon": [0.9, 0.9, 0.6], "shift_tse": [0.2, 0.4]})
    v = run_values(rows)
    assert v["in_domain"] == pytest.approx(0.7)
    assert v["shift_dixon"] == pytest.approx(0.8) and v["shift_tse"] == pytest.approx(0.3)
    assert v["shift"] == pytest.approx(0.55)  # not the mean over the five patients (0.6)


def test_differences_are_paired_and_the_front_is_non_dominated():
    rng = np.random.default_rng(0)
    base = {"in_domain": rng.uniform(0.6, 0.9, 6), "shift_dixon": rng.uniform(0.7, 0.9, 12),
            "shift_tse": rng.uniform(0.2, 0.6, 13)}
    rows = []
    for seed in (0, 1):
        rows += long_rows("baseline", seed, base)
        rows += long_rows("better_shift", seed, {"in_domain": base["in_domain"] - 0.01,
                                                 "shift_dixon": base["shift_dixon"] + 0.04, "shift_tse": base["shift_tse"] + 0.06})
        rows += long_rows("worse", seed, {k: v - 0.05 for k, v in base.items()})
    out = {r["variant"]: r for r in summarise_axes(rows, "baseline", 500, 0.95, 0)}
    b = out["better_shift"]
    assert b["shift_diff"] == pytest.approx(0.05) and b["shift_diff_ci_low"] == pytest.approx(0.05)  # paired: no spread
    assert b["in_domain_diff"] == pytest.approx(-0.01)
    assert out["baseline"]["on_front"] and b["on_front"] and not out["worse"]["on_front"]
    assert out["baseline"]["n_seeds"] == 2 and np.isnan(out["baseline"]["shift_diff"])
    assert out["baseline"]["shift_ci_low"] < out["baseline"]["shift"] < out["baseline"]["shift_ci_high"]
    with pytest.raises(DataError, match="baseline"):
        summarise_axes(rows, "missing", 10, 0.95, 0)


def test_a_missing_axis_names_the_fix():
    rows = long_rows("a", 0, {"in_domain": [0.8], "shift_dixon": [0.9]})
    with pytest.raises(DataError, match="shift_validation"):
        run_values(rows)


def test_pareto_front():
    assert pareto_front({"a": (1, 1), "b": (2, 0), "c": (0.5, 0.5), "d": (1, 1)}) == {"a", "b", "d"}


def test_optuna_search_space_gives_valid_overrides():
    """Every trial of the study (scripts/optuna_realism.py) is a set of Hydra overrides that builds a generator."""
    import importlib.util

    import optuna
    import yaml
    from hydra.utils import instantiate

    from spine_synthseg.config import PROJECT_ROOT, compose_config

    spec = importlib.util.spec_from_file_location("optuna_realism", PROJECT_ROOT / "scripts" / "optuna_realism.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    space = yaml.safe_load(module.SPACE.read_text())
    params = {k: (v["choices"][-1] if "choices" in v else v["float"][1]) for k, v in space.items()}
    overrides = module.suggest(optuna.trial.FixedTrial(params), space)
    assert "background=tissue" in overrides and "synth.contrast.std_range=[0.0,0.15]" in overrides
    generator = instantiate(compose_config(["experiment=realism_optuna/trial", *overrides]).synth)
    assert generator.background.mode == "tissue" and generator.distractors.prob == 0.8
    assert generator.contrast.std_range == (0.0, 0.15)
