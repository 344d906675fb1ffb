"""Full-pass vs sliding-window inference on the REAL VALIDATION patients (never a test set), per checkpoint.

  python scripts/compare_inference.py results/inference_choice.json NAME=CKPT [NAME=CKPT ...]

Both modes of models.inference.segment_slices: the full pass (the whole slice at once) and the sliding window
(training-crop windows, 50 % overlap, Gaussian-weighted softmax). Mean Dice over the three structures per
slice, averaged per patient, then over patients.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from spine_synthseg.config import compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_native, load_splits  # noqa: E402
from spine_synthseg.evaluation.metrics import dice_per_structure  # noqa: E402
from spine_synthseg.models.checkpoint import load_checkpoint  # noqa: E402
from spine_synthseg.models.inference import segment_slices  # noqa: E402


def main(out: Path, checkpoints: dict[str, str]) -> None:
    cfg = compose_config([])
    _, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    val = load_native(to_dict(cfg.source), splits["val"])
    window = tuple(cfg.preprocess.size)
    result = {"split": "val", "patients": splits["val"], "n_slices": len(val), "window_px": list(window), "models": {}}
    for name, path in checkpoints.items():
        model = load_checkpoint(path)
        images, spacings = [r.image for r in val], [r.spacing_mm for r in val]
        full = segment_slices(model, images, spacings, mode="full_pass")
        slid = segment_slices(model, images, spacings, mode="sliding_window")
        scores = {}
        for mode, preds in (("full_pass", full), ("sliding_window", slid)):
            per_patient = {}
            for r, p in zip(val, preds):
                d = np.nanmean(dice_per_structure(p[None], r.structures[None], np.asarray(r.annotated)[None])[0])
                per_patient.setdefault(r.patient_id, []).append(d)
            scores[mode] = float(np.mean([np.mean(v) for v in per_patient.values()]))
        result["models"][name] = scores
        print(name, scores)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), dict(a.split("=", 1) for a in sys.argv[2:]))
