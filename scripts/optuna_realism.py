"""Two-objective Optuna study over the generator's main ranges (conf/search/realism.yaml): each trial trains Model A
(experiment=realism_optuna/trial + the trial's overrides: 250 steps, seed 0), scores it on both validation
axes (never a test) with the full pass (4-6 times faster than the sliding window; the screen's runs use the window,
so trial values and screen values are not on one scale) and reports (in_domain, shift). Optuna directly (Hydra's Optuna sweeper 1.3.0 fails to import
with the pinned Optuna: "Unexpected type annotation: Set[str]"). The sqlite storage is committed, so the study
resumes; several workers may share it (each stops when the study has --trials completed trials).

  python scripts/optuna_realism.py run --trials 20 [--threads 1] [--sampler-seed 0]   # one worker
  python scripts/optuna_realism.py export      # results/archive/realism/optuna_trials.csv and optuna_front.png
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import optuna  # noqa: E402
import yaml  # noqa: E402

from spine_synthseg.evaluation import axes  # noqa: E402
from spine_synthseg.evaluation import collect as c  # noqa: E402
from spine_synthseg.evaluation.figures import front_plot  # noqa: E402

STORAGE = ROOT / "results" / "archive" / "realism" / "optuna.db"
SPACE = ROOT / "conf" / "search" / "realism.yaml"
OUT = ROOT / "outputs" / "realism_optuna"
STUDY = "realism"


def suggest(trial: optuna.Trial, space: dict) -> list[str]:
    """The trial's Hydra overrides from the search space."""
    overrides = []
    for name, spec in space.items():
        if "choices" in spec:
            value = trial.suggest_categorical(name, spec["choices"])
        else:
            value = round(trial.suggest_float(name, *spec["float"]), 4)
        overrides.append(f"{name}={spec.get('as', '{}').format(value)}")
    return overrides


def objective(trial: optuna.Trial, space: dict, threads: int) -> tuple[float, float]:
    run = OUT / f"trial_{trial.number:03d}"
    overrides = suggest(trial, space)
    trial.set_user_attr("overrides", " ".join(overrides))
    python = [sys.executable, str(ROOT / "run.py")]
    if not (run / "metrics.json").is_file():
        subprocess.run([*python, "experiment=realism_optuna/trial", "seed=0", f"threads={threads}", "evaluate_after_fit=false",
                        f"hydra.run.dir={run}", *overrides], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run([*python, "mode=evaluate", "evaluation.tests=[validation,shift_validation]", f"threads={threads}",
                    "inference_mode=full_pass", "evaluation.n_overlays=0",
                    f"evaluation.checkpoints.model_a={run}/checkpoints/best.ckpt", f"hydra.run.dir={run}/eval_val"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    values = axes.run_values(axes.relabel(c.evaluation_long(run / "eval_val"), "trial", 0))
    for k in ("shift_dixon", "shift_tse"):
        trial.set_user_attr(k, values[k])
    trial.set_user_attr("commit", yaml.safe_load((run / "metrics.json").read_text()).get("commit", "unknown"))
    return values["in_domain"], values["shift"]


def study(sampler_seed: int = 0, storage: Path = STORAGE) -> optuna.Study:
    storage.parent.mkdir(parents=True, exist_ok=True)
    sampler = optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=8, multivariate=True)
    return optuna.create_study(study_name=STUDY, storage=f"sqlite:///{storage}", directions=["maximize", "maximize"],
                               load_if_exists=True, sampler=sampler)


def export(storage: Path = STORAGE, out: Path = STORAGE.parent) -> None:
    """OUT/optuna_trials.csv (every trial: state, objectives, parts, front membership, commit, parameters) and
    OUT/optuna_front.png from the study in `storage`."""
    s = study(storage=storage)
    rows, points = [], []
    done = [t for t in s.trials if t.state == optuna.trial.TrialState.COMPLETE]
    front = {t.number for t in s.best_trials}
    for t in s.trials:
        row = {"trial": t.number, "state": t.state.name, "in_domain": t.values[0] if t.values else None,
               "shift": t.values[1] if t.values else None, **{k: t.user_attrs.get(k) for k in ("shift_dixon", "shift_tse")},
               "on_front": t.number in front, "commit": t.user_attrs.get("commit"), **t.params}
        rows.append(row)
    c.write_csv(out / "optuna_trials.csv", rows)
    for t in done:  # one seed, no CI: the points alone
        points.append({"variant": f"t{t.number}", "n_seeds": 1, "in_domain": t.values[0], "shift": t.values[1],
                       "in_domain_ci_low": t.values[0], "in_domain_ci_high": t.values[0], "shift_ci_low": t.values[1],
                       "shift_ci_high": t.values[1], "on_front": t.number in front})
    front_plot(points, out / "optuna_front.png",
               f"Optuna study '{STUDY}': {len(done)} completed trials, seed 0")
    print(f"{len(done)} completed trials, front {sorted(front)}; written {out / 'optuna_trials.csv'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "export"])
    parser.add_argument("--trials", type=int, default=20, help="stop when the study has this many completed trials")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sampler-seed", type=int, default=0)
    args = parser.parse_args()
    if args.command == "export":
        return export()
    space = yaml.safe_load(SPACE.read_text())
    s = study(args.sampler_seed)
    stop = optuna.study.MaxTrialsCallback(args.trials, states=(optuna.trial.TrialState.COMPLETE,))
    s.optimize(lambda t: objective(t, space, args.threads), callbacks=[stop],
               catch=(subprocess.CalledProcessError,))


if __name__ == "__main__":
    main()
