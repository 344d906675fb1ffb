"""The volume freeze's validation collector (results/volume_freeze/, protocol.md entry 5): the four models trained
with negatives at 3 seeds, each scored on the three validation axes under every inference mode, never a test.

Run folders ``<model>_seed<k>/`` hold ``evaluation/`` (scored at training time in the run's own inference mode,
the volume rule on and off); ``eval_val_<mode>_seed<k>/`` beside them score the four runs of a seed under another
mode. Rows are named ``<model>[+no_rule]@<mode>``;
the references, entry 3's configurations without negatives, ``entry3_<model>[+no_rule]@<mode>``: slices from
results/archive/freeze/validation_per_patient.csv (3 seeds), volumes without the rule from
results/archive/volumes/shift_val_per_patient.csv (the shipped seed-0 models; one seed).

The decisions, per model, each from paired differences over patients and seeds (two-level CIs, ``collect``; a
comparison within the same runs, another mode or the rule on and off, pairs the seeds too):
  negatives    kept when in-domain Dice against entry 3 has its CI low above ``margin`` and false_spine_ml without
               the rule falls (CI high below 0);
  volume rule  kept when vb_dice3d with the rule minus without has its CI low above ``margin`` and false_spine_ml
               falls;
  mode         the reference mode stays unless another mode raises in-domain, both shift slice sets and vb_dice3d,
               each with its CI low above 0.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.absence_screen import AXES
from spine_synthseg.evaluation.collect import evaluation_long, paired, read_csv, summarise, write_csv

MODELS = ("model_a", "model_b", "model_b_aug", "model_c")
ENTRY3 = {"model_a_combined": "model_a", "model_b": "model_b", "model_b_aug": "model_b_aug",
          "model_c_combined": "model_c"}  # results/archive/freeze/ names -> the models they froze
REFERENCE = "entry3_"
RAISES = ("in_domain", "shift_dixon", "shift_tse", "vb_dice3d")  # what another mode must raise to replace the frozen one
KEYS = {key: axis for axis, key in AXES.items()}


def name(model: str, mode: str, rule: bool = True) -> str:
    return f"{model}{'' if rule else '+no_rule'}@{mode}"


def split(label: str) -> tuple[str, bool, str]:
    """'model_a+no_rule@full_pass' -> ('model_a', False, 'full_pass')."""
    head, mode = label.split("@")
    return head.split("+")[0], "+no_rule" not in head, mode


def run_long(run: Path) -> list[dict]:
    """One run folder's own evaluation (its inference mode, the rule on and off), named model[+no_rule]@mode."""
    mode = yaml.safe_load((run / "config_resolved.yaml").read_text())["inference_mode"]
    return _named(run / "evaluation", mode)


def mode_long(folder: Path) -> list[dict]:
    """An evaluation folder eval_val_<mode>_seed<k>/ (the four runs of one seed under another mode), named alike."""
    return _named(folder, folder.name.removeprefix("eval_val_").rsplit("_seed", 1)[0])


def _named(folder: Path, mode: str) -> list[dict]:
    if not (folder / "metrics.csv").is_file():
        raise DataError(f"{folder} holds no metrics.csv; score it again (mode=evaluate, hydra.run.dir={folder}).")
    return [{**r, "model": name(r["model"].split("+")[0], mode, "+no_rule" not in r["model"])}
            for r in evaluation_long(folder)]


def reference_long(results: Path) -> list[dict]:
    """Entry 3's configurations on the same axes: slices (3 seeds) and volumes without the rule (seed 0)."""
    out = []
    for r in read_csv(results / "archive" / "freeze" / "validation_per_patient.csv"):
        model, mode = r["model"].split("@")
        if model in ENTRY3:
            out.append({**r, "model": name(REFERENCE + ENTRY3[model], mode)})
    for r in read_csv(results / "archive" / "volumes" / "shift_val_per_patient.csv"):
        out.append({k: v for k, v in r.items() if k != "run"} | {"model": name(REFERENCE + r["model"], r["run"], False)})
    return out


def pairs_of(labels: set[str], reference_mode: str) -> list[tuple[str, str, str]]:
    """(comparison, a, b) for a - b: each mode against the reference mode, the rule against none, each model against
    B+aug, and each model against entry 3 (its slices with the rule's name; its volumes without the rule)."""
    out = []
    for label in sorted(labels):
        model, rule, mode = split(label)
        if model.startswith(REFERENCE):
            continue
        ref = name(model, reference_mode, rule)
        if mode != reference_mode and ref in labels:
            out.append(("mode", label, ref))
        if rule and name(model, mode, False) in labels:
            out.append(("volume_rule", label, name(model, mode, False)))
        if model != "model_b_aug" and name("model_b_aug", mode, rule) in labels:
            out.append(("vs_model_b_aug", label, name("model_b_aug", mode, rule)))
        if name(REFERENCE + model, mode, rule) in labels:
            out.append(("negatives", label, name(REFERENCE + model, mode, rule)))
    return out


def tables(long: list[dict], reference_mode: str, n_boot: int, confidence: float, seed: int
           ) -> tuple[list[dict], list[dict]]:
    """(one row per label and axis: mean, CI, n_seeds; one row per comparison and axis: a - b, paired CI)."""
    keyed = [r for r in long if (r["test"], r["variant"], r["structure"], r["metric"]) in KEYS]
    summary = [{"label": r["model"], "axis": KEYS[(r["test"], r["variant"], r["structure"], r["metric"])], **r}
               for r in summarise(keyed, n_boot, confidence, seed)]
    labels = {r["model"] for r in keyed}
    comparisons = pairs_of(labels, reference_mode)
    kind = {(a, b): k for k, a, b in comparisons}
    within = [(a, b) for k, a, b in comparisons if k in WITHIN_RUN]
    across = [(a, b) for k, a, b in comparisons if k not in WITHIN_RUN]
    rows = (paired(keyed, within, n_boot, confidence, seed, same_runs=True)
            + paired(keyed, across, n_boot, confidence, seed))
    diffs = [{"comparison": kind[(r["model_a"], r["model_b"])],
              "axis": KEYS[(r["test"], r["variant"], r["structure"], r["metric"])], **r}
             for r in rows if (r["test"], r["variant"], r["structure"], r["metric"]) in KEYS]
    return summary, diffs


WITHIN_RUN = ("mode", "volume_rule")  # both sides come from the same checkpoints: seeds paired as well as patients


def decide(diffs: Sequence[Mapping], reference_mode: str, margin: float) -> dict:
    """{model: {"negatives", "volume_rule", "mode": {"keep"/"mode", "reasons"}}} by the rules of the docstring."""
    by = {(d["comparison"], d["model_a"], d["axis"]): d for d in diffs}
    out = {}
    for model in MODELS:
        verdict = {}
        for lever, fall_label, axis in (("negatives", name(model, reference_mode, False), "in_domain"),
                                        ("volume_rule", name(model, reference_mode), "vb_dice3d")):
            keep_row = by.get((lever, name(model, reference_mode), axis))
            fall_row = by.get((lever, fall_label, "false_spine_ml"))
            if keep_row is None or fall_row is None:
                verdict[lever] = {"keep": None, "reasons": [f"no {lever} comparison for {model}"]}
                continue
            reasons = []
            if not float(keep_row["ci_low"]) > margin:  # the lever costs more than the margin where it must not
                reasons.append(f"{axis} CI low {float(keep_row['ci_low']):+.3f} <= {margin:+g}")
            if not float(fall_row["ci_high"]) < 0:
                reasons.append(f"false_spine_ml does not fall: CI high {float(fall_row['ci_high']):+.2f} mL")
            verdict[lever] = {"keep": not reasons, "reasons": reasons,
                              axis: float(keep_row["diff_mean"]), "false_spine_ml": float(fall_row["diff_mean"])}
        better = {}
        for (comparison, label, axis), d in by.items():
            if comparison == "mode" and split(label)[0] == model and split(label)[1] and axis in RAISES:
                better.setdefault(split(label)[2], []).append(float(d["ci_low"]) > 0)
        winners = sorted(m for m, ups in better.items() if len(ups) == len(RAISES) and all(ups))
        verdict["mode"] = {"mode": winners[0] if winners else reference_mode,
                           "reasons": [f"{m} raises every axis" for m in winners] or
                           [f"no mode raises {', '.join(RAISES)} above {reference_mode} (CI low > 0)"]}
        out[model] = verdict
    return out


def front_plot(summary: Sequence[Mapping], path: Path) -> None:
    """Two panels per label with the rule: in-domain against the mean of the shift slice sets, and in-domain against
    false spine per shift-validation volume (with the rule filled, without open); entry 3 in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    value = {(r["label"], r["axis"]): float(r["mean"]) for r in summary}
    colours = dict(zip(MODELS, ("C3", "C0", "C1", "C2")))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    markers = dict(zip(sorted({split(lab)[2] for lab, _ in value}), "os^Dx"))
    for mode, marker in markers.items():
        axes[0].scatter([], [], color="k", marker=marker, label=mode)
    axes[0].legend(fontsize=7)
    for label in sorted({lab for lab, _ in value}):
        model, rule, mode = split(label)
        x = value.get((label, "in_domain"))
        if not rule or x is None:
            continue
        c = "0.6" if model.startswith(REFERENCE) else colours.get(model, "k")
        marker = markers[mode]
        y = (value.get((label, "shift_dixon"), float("nan")) + value.get((label, "shift_tse"), float("nan"))) / 2
        axes[0].scatter(x, y, color=c, marker=marker, s=36)
        axes[0].annotate(label, (x, y), fontsize=6, xytext=(3, 3), textcoords="offset points")
        off = name(model, mode, False)
        fs, fs_off = value.get((label, "false_spine_ml")), value.get((off, "false_spine_ml"))
        x_off = x if fs is not None else value.get((name(model, mode), "in_domain"), x)
        if fs is not None:
            axes[1].scatter(x, fs, color=c, marker=marker, s=36)
            axes[1].annotate(label, (x, fs), fontsize=6, xytext=(3, 3), textcoords="offset points")
        if fs_off is not None:
            axes[1].scatter(x_off, fs_off, facecolors="none", edgecolors=c, marker=marker, s=36)
            if fs is not None:
                axes[1].plot([x, x], [fs_off, fs], color=c, lw=0.6)
    axes[0].set(xlabel="in-domain Dice (T2 SPACE validation)", ylabel="shift slices (mean of Dixon vb_dice, TSE Dice)")
    axes[1].set(xlabel="in-domain Dice (T2 SPACE validation)",
                ylabel="false spine per shift-validation volume (mL)\nfilled: volume rule on, open: off")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("The volume freeze on the validation axes: means over patients and seeds, one marker per inference "
                 "mode (grey: entry 3, no negatives)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def collect(results: Path, runs: Path, reference_mode: str, n_boot: int, confidence: float, seed: int,
            margin: float, out_name: str = "volume_freeze") -> dict:
    """Write results/<out_name>/: validation_per_patient.csv, validation_axes.csv, validation_paired.csv,
    decision.json, validation_front.png from the run folders; returns the decisions."""
    folders = sorted(p.parent for p in runs.glob("*_seed*/metrics.json"))
    if not folders:
        raise DataError(f"no trained runs <model>_seed<k>/metrics.json under {runs}; train experiment=volume_freeze/*.")
    modes = sorted(runs.glob("eval_val_*_seed*"))
    long = [r for f in folders for r in run_long(f)] + [r for f in modes for r in mode_long(f)] + \
        reference_long(results)
    summary, diffs = tables(long, reference_mode, n_boot, confidence, seed)
    decision = decide(diffs, reference_mode, margin)
    out = results / out_name
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "validation_per_patient.csv", long)
    write_csv(out / "validation_axes.csv", summary)
    write_csv(out / "validation_paired.csv", diffs)
    (out / "decision.json").write_text(json.dumps({"reference_mode": reference_mode, "margin": margin,
                                                   "runs": [f.name for f in folders + modes],
                                                   "decisions": decision}, indent=2))
    front_plot(summary, out / "validation_front.png")
    return decision
