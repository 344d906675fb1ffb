"""spine-synthseg entry point (Hydra).

  python run.py data=synth            # train Model A (synthetic images only)
  python run.py data=real             # train Model B (real images only)
  python run.py mode=evaluate evaluation.checkpoints.model_a=PATH evaluation.checkpoints.model_b=PATH
  python run.py mode=generate         # gallery of synthetic images
  python run.py mode=predict predict.checkpoint=PATH predict.input=FOLDER_OR_MHA
  python run.py -m synth.strength=0,0.5,1 trainer=sweep   # Hydra multirun sweep
"""

import hydra
from omegaconf import DictConfig

import spine_synthseg.config  # noqa: F401  (registers the project_root resolver)

MODES = ("train", "evaluate", "generate", "predict")


@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    if cfg.mode not in MODES:
        raise ValueError(f"mode={cfg.mode!r}; use one of {MODES}.")
    if cfg.mode == "train":
        from spine_synthseg.train import train

        metrics = train(cfg)
        return metrics["validation"].get("val_real/dice_mean")
    if cfg.mode == "evaluate":
        from spine_synthseg.evaluation.evaluate import evaluate_from_config

        evaluate_from_config(cfg)
    elif cfg.mode == "generate":
        from spine_synthseg.synthesis.gallery import gallery_from_config

        gallery_from_config(cfg)
    else:
        from spine_synthseg.predict import predict_from_config

        predict_from_config(cfg)
    return None


if __name__ == "__main__":
    main()
