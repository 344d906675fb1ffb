"""Loading a trained SegmentationModule from a checkpoint, the one loader of evaluation, predict and tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from spine_synthseg.errors import DataError
from spine_synthseg.models.segmentation_module import SegmentationModule


LEGACY_MODE = "full_pass"  # checkpoints saved before inference_mode existed were validated with one full pass


def load_checkpoint(path: str | Path, expected_preprocess: Mapping | None = None) -> SegmentationModule:
    """A checkpoint in eval mode on the CPU. With `expected_preprocess` (the ``preprocess`` config node), the
    checkpoint must have been trained at the same working spacing and intensity percentiles. A checkpoint
    without a saved ``inference_mode`` gets LEGACY_MODE (the mode it was selected with), not today's default."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.ckpt"))
        raise DataError(f"Checkpoint {path} is a folder; pass a .ckpt file"
                        + (f" in it ({', '.join(found)})." if found else ", e.g. models/model_a.ckpt."))
    if not path.is_file():
        raise DataError(f"Checkpoint {path} does not exist; pass the path of a .ckpt file.")
    try:
        saved = torch.load(str(path), map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001  (unpickling errors, zip errors, EOF: any file torch cannot read)
        raise DataError(f"{path} is not a checkpoint torch can read ({type(err).__name__}); pass a .ckpt file "
                        f"written by run.py (e.g. models/model_a.ckpt).") from err
    if not isinstance(saved, dict) or "state_dict" not in saved:
        raise DataError(f"{path} is not a Lightning checkpoint (no state_dict); pass a .ckpt file written by run.py.")
    try:
        hparams = saved.get("hyper_parameters", {})
        extra = {} if "inference_mode" in hparams else {"inference_mode": LEGACY_MODE}
        model = SegmentationModule.load_from_checkpoint(str(path), map_location="cpu", **extra)
    except (RuntimeError, KeyError, TypeError, AttributeError) as err:
        raise DataError(f"{path} is not a spine-synthseg checkpoint ({err}); train one with run.py.") from err
    trained = model.hparams.get("preprocess")
    if expected_preprocess is not None and trained and (
            float(trained["spacing_mm"]) != float(expected_preprocess["spacing_mm"])
            or list(trained.get("percentiles", [])) != list(expected_preprocess.get("percentiles", []))):
        raise DataError(f"{path} was trained at {trained}, but preprocess is {dict(expected_preprocess)}; "
                        f"set preprocess to match.")
    model.quality = dict(saved.get("quality") or {})  # the QC threshold chosen for this checkpoint, if one was
    return model.eval()                                  # (scripts/ship_models.py --qc-threshold)
