"""The evaluation suite: checkpoints x test cases, whole slices scored at their native grid -> metrics.csv,
summary.md/json, plots, overlays, TensorBoard scalars. The patients are those of the checkpoints' own split
(``run_split``); the statistics are the collector's (``collect``)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from spine_synthseg.config import to_dict
from spine_synthseg.data.parallel import thread_map
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.aggregation import METRICS
from spine_synthseg.evaluation.body_metrics import vertebral_body_metrics
from spine_synthseg.evaluation.cases import EvalCase, VolumeCase, build_cases
from spine_synthseg.evaluation.collect import evaluation_summary
from spine_synthseg.evaluation.figures import write_figures
from spine_synthseg.evaluation.metrics import dice_per_structure, surface_distances
from spine_synthseg.evaluation.run_split import run_split
from spine_synthseg.evaluation.tables import write_summary_md
from spine_synthseg.evaluation.volume_evaluation import score_volumes
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import precision, resolve_precision, segment_slices
from spine_synthseg.models.postprocess import column_band
from spine_synthseg.models.quality import quality_scores
from spine_synthseg.models.volume_rule import VolumeRule
from spine_synthseg.structures import FOREGROUND, SHORT_NAMES

log = logging.getLogger(__name__)


def image_rows(model_name: str, case: EvalCase, i: int, pred: np.ndarray, surfaces: bool, seed="") -> list[dict]:
    """The rows of image i of a case: per structure Dice (and HD95 / ASSD in mm), or one "vertebral_body" row
    of ``body_metrics`` for body-only masks. seed: the checkpoint's training seed ("" if it stores none)."""
    r = case.records[i]
    base = {"seed": seed, "model": model_name, "test": case.test, "variant": case.variant, "image": r.name, "patient": r.patient_id,
            "series": r.series, "sequence": r.tags.get("sequence", r.sequence), "appearance": r.tags.get("appearance", ""),
            "acq_spacing_mm": case.acq_spacing_mm if case.acq_spacing_mm is not None else ""}
    empty = dict.fromkeys(METRICS, float("nan"))
    if case.scoring == "bodies":
        return [{**base, "structure": "vertebral_body", **empty,
                 **vertebral_body_metrics(pred, r.structures, r.spacing_mm)}]
    dice = dice_per_structure(pred[None], r.structures[None], np.asarray(r.annotated)[None])[0]
    rows = []
    for j, structure in enumerate(FOREGROUND):
        hd = assd = float("nan")
        if surfaces and r.annotated[j]:
            hd, assd = surface_distances(pred == j + 1, r.structures == j + 1, r.spacing_mm)
        rows.append({**base, "structure": SHORT_NAMES[structure], **empty, "dice": dice[j], "hd95_mm": hd,
                     "assd_mm": assd})
    return rows


def _score(model_name: str, case: EvalCase, preds: list[np.ndarray], surfaces: bool, seed) -> list[list[dict]]:
    """image_rows of every image of a case, in order; with surface distances on the torch threads (SciPy's
    distance transforms run in parallel: 8.9 against 16.5 s over 3 rounds of the standard and protocol-shift
    rows, the same rows, benchmarks/scoring_speed.py), else in a loop."""
    rows = lambda i: image_rows(model_name, case, i, preds[i], surfaces, seed)  # noqa: E731
    return thread_map(rows, range(len(preds))) if surfaces else [rows(i) for i in range(len(preds))]


VARIANTS = ("column", "flip", "flip+column")  # inference variants scored beside each model (evaluation.inference_variants)


def inference_variants(model, images, spacings, preds, variants, mode: str, band_mm: float) -> dict[str, list]:
    """{"+variant": predictions} for the requested inference variants of one model on one case: flip averaging
    (``inference.segment_slices``) and / or the column-aware post-processing (``postprocess.column_band``)."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise DataError(f"evaluation.inference_variants has unknown entries {unknown}; use {list(VARIANTS)}.")
    flipped = segment_slices(model, images, spacings, mode=mode, flip_average=True) \
        if any(v.startswith("flip") for v in variants) else None
    out = {}
    for v in variants:
        base = flipped if v.startswith("flip") else preds
        out[f"+{v}"] = [column_band(p, sp, band_mm) for p, sp in zip(base, spacings)] if v.endswith("column") else base
    return out


def score_model(cfg: DictConfig, name: str, model, seed, cases: list[EvalCase], volume_cases: list[VolumeCase],
                rule: VolumeRule, out: Path) -> tuple[list[dict], list[dict], dict]:
    """(metric rows, volume-slice rows, {(test, variant): predictions}) of one model on every case. A case of the
    very images of an earlier one (the resolution group's native grid is the standard test's slices) reuses its
    predictions: the same input gives the same output."""
    ev = cfg.evaluation
    kinds = list(ev.get("quality_scores") or [])
    mode = str(ev.inference_mode)
    rows: list[dict] = []
    slice_rows: list[dict] = []
    for case in tqdm(volume_cases, desc=f"evaluate {name} (volumes)", leave=False):
        save = out / "volumes" / name / case.variant if ev.get("save_volumes") else None
        quality = (kinds[0], ev.quality_second_mode) if kinds else None
        found, per_slice = score_volumes(name, model, case, mode, seed, quality, save, rule)
        rows += [{**r, **{f"qc_{k}": float("nan") for k in kinds}} for r in found]
        slice_rows += per_slice
    predictions: dict[tuple[str, str], list[np.ndarray]] = {}
    done: dict[int, tuple[list, dict]] = {}  # id of an untransformed case's records -> its predictions and scores
    for case in tqdm(cases, desc=f"evaluate {name}", leave=False):
        with torch.autocast(next(model.parameters()).device.type, enabled=False):  # inputs in float32 at any threads
            images = thread_map(case.image, range(len(case.records)))  # perturbed copies (home-field), in parallel
        spacings = [r.spacing_mm for r in case.records]
        if case.transform is None and id(case.records) in done:
            preds, qc = done[id(case.records)]
        else:
            preds = segment_slices(model, images, spacings, mode=mode)
            qc = {f"qc_{k}": quality_scores(model, images, spacings, preds, k, mode, ev.quality_second_mode)
                  for k in kinds}
            if case.transform is None:
                done[id(case.records)] = preds, qc
        predictions[(case.test, case.variant)] = preds
        surfaces = case.test in ev.surface_distance_tests
        for i, found in enumerate(_score(name, case, preds, surfaces, seed)):
            rows.extend({**r, **{k: v[i] for k, v in qc.items()}} for r in found)
        extra = inference_variants(model, images, spacings, preds, list(ev.get("inference_variants") or []), mode,
                                   float(ev.get("column_band_mm", 50.0)))
        for suffix, variant_preds in extra.items():
            for found in _score(name + suffix, case, variant_preds, surfaces, seed):
                rows.extend(found)
    return rows, slice_rows, predictions


def evaluate_checkpoints(cfg: DictConfig, checkpoints: dict[str, str | Path], out_dir: str | Path) -> dict:
    """Segment every image of every case whole with each checkpoint (``inference.segment_slice``), score it on its
    own grid, and write metrics.csv, summary.json / .md, figures and TensorBoard scalars under out_dir."""
    if not checkpoints:
        raise DataError("No checkpoints to evaluate; set evaluation.checkpoints.NAME=PATH (e.g. model_a=..., model_b=...).")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ev = cfg.evaluation
    models = {name: load_checkpoint(path, to_dict(cfg.preprocess)) for name, path in checkpoints.items()}
    split = run_split(cfg, {name: model.hparams.get("splits") for name, model in models.items()})
    cases, split_info = build_cases(cfg, split)
    seeds = {name: "" if model.hparams.get("seed") is None else int(model.hparams.seed) for name, model in models.items()}
    for name, model in models.items():
        if model.hparams.inference_mode != ev.inference_mode:
            log.warning("%s was selected with inference_mode=%s; evaluating with %s (evaluation.inference_mode).",
                        name, model.hparams.inference_mode, ev.inference_mode)
    rows: list[dict] = []
    slice_rows: list[dict] = []
    predictions: dict[tuple[str, str, str], list[np.ndarray]] = {}
    volume_cases = [c for c in cases if isinstance(c, VolumeCase)]
    cases = [c for c in cases if not isinstance(c, VolumeCase)]
    rule = VolumeRule.from_config(to_dict(cfg.volume_rule))
    for name, model in models.items():
        with precision(model, str(cfg.inference_precision)):  # evaluation's arithmetic is predict's
            found, per_slice, preds = score_model(cfg, name, model, seeds[name], cases, volume_cases, rule, out)
        rows += found
        slice_rows += per_slice
        predictions.update({(name, test, variant): p for (test, variant), p in preds.items()})
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), restval="")
        writer.writeheader()
        writer.writerows(rows)
    if slice_rows:  # every slice of every scored volume (volume_evaluation.py)
        with open(out / "volume_slices.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(slice_rows[0]))
            writer.writeheader()
            writer.writerows(slice_rows)
    labelled = [{**r, "seed": r["seed"] if r["seed"] != "" else "unknown"} for r in rows]
    names = list(dict.fromkeys(r["model"] for r in rows))  # checkpoints, then their inference variants
    summary = evaluation_summary(labelled, names, int(ev.bootstrap_samples), float(ev.confidence), int(ev.seed))
    summary["split"] = split_info
    summary["checkpoints"] = {k: str(v) for k, v in checkpoints.items()}
    summary["volume_rule"] = rule.name
    summary["inference_precision"] = {name: resolve_precision(str(cfg.inference_precision), next(m.parameters()).device)
                                      for name, m in models.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    write_summary_md(summary, to_dict(cfg.catalog), out / "summary.md")
    write_figures(summary, rows, cases, predictions, out, int(ev.n_overlays))
    _log_tensorboard(summary, out)
    log.info("evaluation written to %s", out)
    return summary


def _log_tensorboard(summary: dict, out: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(out / "tensorboard")) as writer:
        for e in summary["aggregates"]:
            writer.add_scalar(f"test/{e['model']}/{e['test']}/{e['variant']}/{e['metric']}_{e['structure']}", e["mean"], 0)


def evaluate_from_config(cfg: DictConfig) -> dict:
    """mode=evaluate: evaluate cfg.evaluation.checkpoints into the run folder."""
    checkpoints = {k: v for k, v in to_dict(cfg.evaluation.checkpoints).items() if v}
    return evaluate_checkpoints(cfg, checkpoints, Path(cfg.paths.output_dir))
