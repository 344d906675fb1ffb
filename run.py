"""spine-synthseg entry point (Hydra).

  python run.py data=synth            # train Model A (synthetic images only); or experiment=model_a
  python run.py data=real             # train Model B (real images only); or experiment=model_b
  python run.py -m experiment=model_a,model_b budget=smoke     # one run per experiment, named by it
  python run.py mode=evaluate evaluation.checkpoints.model_a=PATH evaluation.checkpoints.model_b=PATH
  python run.py mode=generate         # gallery of synthetic images
  python run.py mode=predict predict.checkpoint=PATH predict.input=FOLDER_OR_MHA
  python run.py -m randomisation=strength strength=0,0.5,1 budget=sweep   # Hydra multirun sweep
  python run.py mode=collect "collect=[headline,results/volume_freeze]"     # the collector (scripts/collect.py)

An experiment's stages are experiment files driven by multirun (train: its model files; validate / test: mode
evaluate), resumable with skip_done=true; a file's `collect` (the collector's arguments) runs after each of its jobs,
e.g. `python run.py -m experiment=volume_freeze/test seed=0,1,2` scores and collects each seed in turn.

Bad data or config values end the run with one line on stderr and exit status 2; set HYDRA_FULL_ERROR=1 for
the traceback.
"""

import json
import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

import spine_synthseg.config  # noqa: F401  (registers the resolvers)
from spine_synthseg.errors import ConfigError, DataError

MODES = ("train", "evaluate", "generate", "predict", "collect")


def _one_log_handler() -> None:
    """Lightning's loggers print through their own handler and then propagate to Hydra's: keep Hydra's only."""
    import lightning.pytorch  # noqa: F401  (adds its handlers on import)

    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def optimized(metrics: dict, names) -> float | list[float] | None:
    """The value(s) of `optimized_metric` (a name of the run's validation metrics, or a list of names) that Hydra's
    sweepers (grid, Optuna, multi-objective Optuna) optimise; None when not set."""
    if not names:
        return None
    single = isinstance(names, str)
    missing = [n for n in ([names] if single else names) if n not in metrics["validation"]]
    if missing:
        raise ConfigError(f"optimized_metric names {missing}, which this run does not report; use one of "
                          f"{sorted(metrics['validation'])}.")
    values = [float(metrics["validation"][n]) for n in ([names] if single else names)]
    return values[0] if single else values


DONE_MARKERS = {"train": "metrics.json", "evaluate": "summary.json"}  # written last by each mode


def finished(cfg: DictConfig) -> Path | None:
    """With ``skip_done``, the marker file of a train / evaluate run whose folder already holds its result."""
    marker = Path(cfg.paths.output_dir) / DONE_MARKERS.get(cfg.mode, "")
    return marker if cfg.get("skip_done") and cfg.mode in DONE_MARKERS and marker.is_file() else None


def collect_after(cfg: DictConfig) -> None:
    """The stage after a train / evaluate job: the collector on ``cfg.collect`` (its arguments; none when empty), in
    its own process, which composes the default config (so a job of another inference mode re-collects the
    configured mode's tables, never its own one-seed ones). A collector error fails the job."""
    args = [str(a) for a in cfg.get("collect") or []]
    if not args:
        return
    import subprocess

    logging.getLogger(__name__).info("collect: %s", " ".join(args))
    done = subprocess.run([sys.executable, "-m", "spine_synthseg.apps.collect", *args], capture_output=True, text=True)
    if done.returncode:
        raise DataError(f"collect {args} failed after the job: {(done.stderr or done.stdout).strip()[-2000:]}")


def dispatch(cfg: DictConfig) -> float | list[float] | None:
    if cfg.mode not in MODES:
        raise ConfigError(f"mode={cfg.mode!r}; use one of {MODES}.")
    if cfg.mode == "collect":
        if not cfg.get("collect"):
            raise ConfigError('mode=collect needs collect=[SUBCOMMAND,ARGS...], e.g. "collect=[headline,results]".')
        from spine_synthseg.apps.collect import main as collect

        collect([str(a) for a in cfg.collect], cfg=cfg)
        return None
    if cfg.get("threads"):  # every mode (evaluation had run on torch's default, over-subscribing side-by-side jobs)
        import torch

        torch.set_num_threads(int(cfg.threads))
    value = run_mode(cfg)
    collect_after(cfg)
    return value


def run_mode(cfg: DictConfig) -> float | list[float] | None:
    """One train / evaluate / generate / predict job (with skip_done, what its folder holds stands)."""
    done = finished(cfg)
    if done is not None:  # resuming a sweep: what the folder holds stands, nothing is recomputed
        logging.getLogger(__name__).info("skip_done: %s exists, run skipped", done)
        if cfg.mode == "train":
            return optimized(json.loads(done.read_text()), cfg.get("optimized_metric"))
        return None
    if cfg.mode == "train":
        from spine_synthseg.apps.train_evaluate import train_and_evaluate

        return optimized(train_and_evaluate(cfg), cfg.get("optimized_metric"))
    if cfg.mode == "evaluate":
        from spine_synthseg.evaluation.evaluate import evaluate_from_config

        evaluate_from_config(cfg)
    elif cfg.mode == "generate":
        from spine_synthseg.apps.gallery import gallery_from_config

        gallery_from_config(cfg)
    else:
        from spine_synthseg.apps.predict import predict_from_config

        predict_from_config(cfg)
    return None


def user_error(err: BaseException) -> Exception | None:
    """The DataError / ConfigError behind `err` (Hydra's instantiate wraps them), or None."""
    while err is not None:
        if isinstance(err, (DataError, ConfigError)):
            return err
        err = err.__cause__ or err.__context__
    return None


@hydra.main(config_path="spine_synthseg/conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    _one_log_handler()
    with open_dict(cfg):  # which option of each group ran: saved in config_resolved.yaml and metrics.json
        cfg.choices = {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra/")}
    try:
        return dispatch(cfg)
    except Exception as err:  # noqa: BLE001  (re-raised unless it is a user error)
        cause = user_error(err)
        if cause is None or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {cause}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
