"""The robustness suite: checkpoints x real test variants -> metrics.csv, summary.md/json, plots, overlays."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm

from spine_synthseg.config import to_dict
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.aggregation import summarise
from spine_synthseg.evaluation.cases import EvalCase, build_cases
from spine_synthseg.evaluation.figures import write_figures
from spine_synthseg.evaluation.metrics import dice_per_structure, surface_metrics
from spine_synthseg.evaluation.tables import write_summary_md
from spine_synthseg.models.inference import load_checkpoint, segment_batch
from spine_synthseg.structures import FOREGROUND, SHORT_NAMES

log = logging.getLogger(__name__)


def case_rows(model_name: str, case: EvalCase, pred: np.ndarray, surfaces: bool) -> list[dict]:
    """One row per image x structure with Dice and (optionally) HD95 / ASSD in mm."""
    s = case.slices
    target = s.structures.numpy()
    annotated = s.annotated.numpy()
    dice = dice_per_structure(pred, target, annotated)
    hd = assd = np.full_like(dice, np.nan)
    if surfaces:
        hd, assd = surface_metrics(pred, target, s.spacing_mm, annotated)
    rows = []
    for i, (patient, name) in enumerate(zip(s.patient_ids, s.names)):
        for j, structure in enumerate(FOREGROUND):
            rows.append({"model": model_name, "test": case.test, "variant": case.variant, "image": name,
                         "patient": patient, "structure": SHORT_NAMES[structure], "dice": dice[i, j],
                         "hd95_mm": hd[i, j], "assd_mm": assd[i, j],
                         "acq_spacing_mm": case.spacing_mm if case.spacing_mm is not None else ""})
    return rows


def evaluate_checkpoints(cfg: DictConfig, checkpoints: dict[str, str], out_dir: str | Path) -> dict:
    """Evaluate every checkpoint on every configured test variant; write all outputs under out_dir."""
    if not checkpoints:
        raise DataError("No checkpoints to evaluate; set evaluation.checkpoints.NAME=PATH (e.g. model_a=..., model_b=...).")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ev = cfg.evaluation
    cases, split_info = build_cases(cfg)
    rows: list[dict] = []
    predictions: dict[tuple[str, str, str], np.ndarray] = {}
    for name, path in checkpoints.items():
        model = load_checkpoint(path, to_dict(cfg.preprocess))
        for case in tqdm(cases, desc=f"evaluate {name}", leave=False):
            pred = segment_batch(model, case.image, int(ev.batch_size)).numpy()
            predictions[(name, case.test, case.variant)] = pred
            rows.extend(case_rows(name, case, pred, bool(ev.surface_distance)))
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows, list(checkpoints), int(ev.bootstrap_samples), float(ev.confidence), int(ev.seed))
    summary["split"] = split_info
    summary["checkpoints"] = {k: str(v) for k, v in checkpoints.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    write_summary_md(summary, out / "summary.md")
    write_figures(summary, rows, cases, predictions, out, int(ev.n_overlays))
    _log_tensorboard(summary, out)
    log.info("evaluation written to %s", out)
    return summary


def _log_tensorboard(summary: dict, out: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(out / "tensorboard")) as writer:
        for entry in summary["aggregates"]:
            tag = f"test/{entry['model']}/{entry['test']}/{entry['variant']}/dice_{entry['structure']}"
            writer.add_scalar(tag, entry["dice_mean"], 0)


def evaluate_from_config(cfg: DictConfig) -> dict:
    """mode=evaluate: evaluate cfg.evaluation.checkpoints into the run folder."""
    checkpoints = {k: v for k, v in to_dict(cfg.evaluation.checkpoints).items() if v}
    return evaluate_checkpoints(cfg, checkpoints, Path(cfg.paths.output_dir))
