"""Full-pass vs sliding-window inference on the REAL VALIDATION patients (never a test set), per checkpoint.

  python scripts/compare_inference.py results/inference_choice.json NAME=CKPT [NAME=CKPT ...]

Full pass: the whole slice at once (models.inference.segment_slices, what validation, evaluation and predict use).
Sliding window: windows of the training crop size (160 x 128 px at 1.5 mm) with 50 % overlap, softmax averaged
with a Gaussian weight (nnU-Net's importance map, sigma = 1/8 of the window), then argmax. Mean Dice over the
three structures per slice, averaged per patient, then over patients.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from spine_synthseg.config import compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_native, load_splits  # noqa: E402
from spine_synthseg.data.preprocess import normalise, resample  # noqa: E402
from spine_synthseg.evaluation.metrics import dice_per_structure  # noqa: E402
from spine_synthseg.models.checkpoint import load_checkpoint  # noqa: E402
from spine_synthseg.models.inference import segment_slices  # noqa: E402


def gaussian_weight(size: tuple[int, int]) -> torch.Tensor:
    axes = [torch.exp(-0.5 * ((torch.arange(n) - (n - 1) / 2) / (n / 8)) ** 2) for n in size]
    return (axes[0][:, None] * axes[1][None, :]).clamp_min(1e-3)


@torch.no_grad()
def sliding_window(model, image: np.ndarray, spacing, window: tuple[int, int]) -> np.ndarray:
    prep = model.hparams.preprocess
    x = normalise(resample(image.astype(np.float32), spacing, float(prep["spacing_mm"]), labels=False),
                  tuple(prep["percentiles"]))
    h, w = x.shape
    ph, pw = max(window[0] - h, 0), max(window[1] - w, 0)
    x = F.pad(x, (0, pw, 0, ph))
    H, W = x.shape
    weight = gaussian_weight(window)
    prob = torch.zeros(4, H, W)
    norm = torch.zeros(H, W)
    tops = sorted({min(t, H - window[0]) for t in range(0, H, window[0] // 2)})
    lefts = sorted({min(c, W - window[1]) for c in range(0, W, window[1] // 2)})
    for t in tops:
        for c in lefts:
            p = model(x[None, None, t:t + window[0], c:c + window[1]]).softmax(1)[0]
            prob[:, t:t + window[0], c:c + window[1]] += p * weight
            norm[t:t + window[0], c:c + window[1]] += weight
    pred = (prob / norm).argmax(0)[:h, :w].float()
    return F.interpolate(pred[None, None], size=image.shape, mode="nearest-exact")[0, 0].numpy().astype(np.uint8)


def main(out: Path, checkpoints: dict[str, str]) -> None:
    cfg = compose_config([])
    _, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    val = load_native(to_dict(cfg.source), splits["val"])
    window = tuple(cfg.preprocess.size)
    result = {"split": "val", "patients": splits["val"], "n_slices": len(val), "window_px": list(window), "models": {}}
    for name, path in checkpoints.items():
        model = load_checkpoint(path)
        full = segment_slices(model, [r.image for r in val], [r.spacing_mm for r in val])
        slid = [sliding_window(model, r.image, r.spacing_mm, window) for r in val]
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
