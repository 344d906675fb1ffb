"""Markdown tables for README.md, ANALYSIS_REPORT.md and docs/, read from the committed results (none typed by hand).

  python scripts/make_tables.py results > results/tables.md
  python scripts/make_tables.py results --fill README.md ANALYSIS_REPORT.md docs/lab_notebook.md docs/usage.md

--fill replaces, in each file, the lines between `<!-- table:NAME -->` and `<!-- /table:NAME -->` with the table
NAME (see SECTIONS), so the documents carry exactly the committed numbers.
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from spine_synthseg.config import compose_config
from spine_synthseg.data import families
from spine_synthseg.evaluation import report_tables as rt

CONFIG = compose_config()
CATALOG = families.catalog_of(CONFIG)  # every family's and model's name (conf/catalog/default.yaml)
MODE = str(CONFIG.inference_mode)  # the inference mode the freeze chose (conf/config.yaml)
MODELS = tuple(families.models(CATALOG))
NAMES = {m: rt.model_name(CATALOG, m) for m in MODELS}
ARCHIVE = "archive"  # earlier experiments (results/README.md): every table of them reads results/archive/
FINAL, PREVIOUS, VOLUMES = rt.protocol("final"), rt.protocol("previous"), rt.protocol("volumes")  # each entry's tables
VOLUME_FREEZE = rt.protocol("volume_freeze")
HOME = [("contrast", v) for v in ("gamma_0.5", "gamma_2.0", "inversion", "piecewise_shuffle")] + \
       [("resolution", v) for v in ("iso_0.492mm", "iso_2mm", "iso_3mm", "iso_4mm", "iso_6mm", "thick_4mm", "thick_6mm")]


def read(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path)))


ci = rt.ci


def present(rows) -> list[str]:
    """The models of MODELS that have rows (older result folders have no Model C)."""
    found = {r["model"] for r in rows}
    return [m for m in MODELS if m in found]


def headline(root: Path) -> str:
    """The previous experiment's headline (results/archive/headline.csv)."""
    return rt.headline_table(read(root / "headline.csv"), CATALOG, PREVIOUS, seeds_column=False)


def paired(root: Path, pairs: list | None = None) -> str:
    """Paired differences of the previous experiment; `pairs`: these (model, model) pairs, else every pair."""
    rows = read(root / "paired_differences.csv")
    every = list(dict.fromkeys((r["model_a"], r["model_b"]) for r in rows))
    return rt.differences_table(rows, CATALOG, {**PREVIOUS, "pairs": pairs or every})


def table(root: Path, keys: list[tuple[str, str]], structure: str, metric: str, title: str) -> str:
    rows = {(r["model"], r["test"], r["variant"]): r for r in read(root / ARCHIVE / "default" / "all_tests.csv")
            if r["structure"] == structure and r["metric"] == metric and (r["test"], r["variant"]) in keys}
    models = present(rows.values())
    lines = [f"| {title} | " + " | ".join(NAMES[m] for m in models) + " |", "|---|" + "---|" * len(models)]
    for test, variant in keys:
        cells = [rows.get((m, test, variant)) for m in models]
        if any(cells):
            lines.append(f"| {test}: {variant} | " + " | ".join(ci(c) if c else "n/a" for c in cells) + " |")
    return "\n".join(lines)


def per_structure(root: Path) -> str:
    keys = [("standard", "t2_space"), ("protocol_shift", "t2_tse"), ("protocol_shift", "t2_tse_mid")]
    parts = []
    for s in ("vertebra", "disc", "canal", "mean"):
        parts.append(f"**{s}** (Dice)\n\n" + table(root, keys, s, "dice", "test"))
    hd = [("standard", "t2_space"), ("protocol_shift", "t2_tse")]
    for s in ("vertebra", "disc", "canal"):
        parts.append(f"**{s}** (HD95, mm)\n\n" + table(root, hd, s, "hd95_mm", "test"))
    return "\n\n".join(parts)


def external(root: Path) -> str:
    rows = [r for r in read(root / ARCHIVE / "default" / "all_tests.csv") if r["test"] == "external"]
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    parts = []
    for metric in ("vb_dice", "vb_recall", "vb_fp_far"):
        parts.append(f"**{metric}**\n\n" + table(root, [("external", v) for v in variants], "vertebral_body", metric, "group"))
    return "\n\n".join(parts)


def protocols(root: Path) -> str:
    """Seed 0: the same checkpoints under the old label-centred crop and on whole slices; and the old-protocol
    models (crop-trained, old results) for reference."""
    path = root / ARCHIVE / "default" / "protocol_comparison_seed0.csv"
    if not path.is_file():
        return "(not run)"
    rows = {(r["protocol"], r["model"], r["variant"]): r for r in read(path) if r["structure"] == "mean"}
    old = {(r["model"], r["variant"]): r for r in read(root / ARCHIVE / "old_crop_protocol" / "default" / "across_seeds.csv")
           if r["structure"] == "mean"}
    lines = ["| model | test | old models, old crop protocol (3 seeds) | these models, old crop protocol | these models, whole slices |",
             "|---|---|---|---|---|"]
    for m in MODELS:
        for variant in ("t2_space", "t2_tse", "t2_tse_mid"):
            crop, whole = rows.get(("label_crop_240x192mm", m, variant)), rows.get(("whole_slice", m, variant))
            if not (crop and whole):
                continue
            o = old.get((m, variant))
            old_cell = f"{float(o['dice_mean_over_seeds']):.3f}" if o else "n/a"
            lines.append(f"| {NAMES[m]} | {variant} | {old_cell} | {ci(crop)} | {ci(whole)} |")
    return "\n".join(lines)


def inference_choice(root: Path) -> str:
    import json

    path = root / ARCHIVE / "inference_choice.json"
    if not path.is_file():
        return "(not run)"
    data = json.loads(path.read_text())
    modes = [k for k in next(iter(data["models"].values()))]
    window = f" ({data['window_px'][0]} x {data['window_px'][1]} px, 50 % overlap)"
    lines = ["| model (seed 0) | " + " | ".join(m.replace("_", " ") + (window if "window" in m else "") for m in modes)
             + " |", "|---|" + "---|" * len(modes)]
    for m, v in data["models"].items():
        lines.append(f"| {NAMES.get(m, m)} | " + " | ".join(f"{v[k]:.3f}" for k in modes) + " |")
    return "\n".join(lines)


def screening(root: Path) -> str:
    path = root / ARCHIVE / "reality_gap" / "screening.csv"
    if not path.is_file():
        return "(not run)"
    lines = ["| run (seed 0) | change | val Dice mean | vertebra | disc | canal | difference vs baseline [95% CI] |",
             "|---|---|---|---|---|---|---|"]
    for r in read(path):
        change = r["overrides"].replace("experiment=model_a", "").replace("seed=0", "")
        for old_default in SHORT_BUDGET:  # the screens ran at the defaults of their time; only the change is shown
            change = change.replace(old_default, "")
        change = " ".join(change.split()) or "(short-budget Model A)"
        lines.append(validation_row(r, [r["name"], f"`{change}`"]))
    return "\n".join(lines)


def validation_row(r: dict, first: list[str]) -> str:
    """A row of a collect_screening.py CSV: `first` cells, then mean / per-structure Dice and the paired difference."""
    cells = first + [f"{float(r[k]):.3f}" for k in ("val_dice_mean", "val_dice_vertebra", "val_dice_disc", "val_dice_canal")]
    diff = f"{float(r['diff_vs_baseline']):+.3f} [{float(r['diff_ci_low']):+.3f}, {float(r['diff_ci_high']):+.3f}]"
    return "| " + " | ".join(cells + [diff]) + " |"


SHORT_BUDGET = ("trainer=cpu", "scheduler=warmup_cosine", "synth.output_percentiles=null")


def confirmation(root: Path, name: str = "confirmation") -> str:
    path = root / ARCHIVE / "reality_gap" / f"{name}.csv"
    if not path.is_file():
        return "(not run)"
    lines = ["| Model A configuration | seeds | val Dice mean | vertebra | disc | canal | difference [95% CI] |",
             "|---|---|---|---|---|---|---|"]
    lines += [validation_row(r, [r["name"], r["seed"]]) for r in read(path)]
    return "\n".join(lines)


def compared(path: Path, old: str, new: str, labels: dict | None = None) -> str:
    """A `scripts/collect.py compare` table (NEW - OLD per model and headline test, paired per patient)."""
    if not path.is_file():
        return "(not run)"
    lines = [f"| real test set | model | {old} | {new} | difference [95% CI] | patients |", "|---|---|---|---|---|---|"]
    for r in read(path):
        lines.append(f"| {rt.family_label(CATALOG, r['test'], [r], labels)} | {NAMES[r['model']]} | {float(r['old_mean']):.3f} | {float(r['new_mean']):.3f} | "
                     f"{float(r['diff_mean']):+.3f} [{float(r['ci_low']):+.3f}, {float(r['ci_high']):+.3f}] | {r['n_patients']} |")
    return "\n".join(lines)


def frozen_vs_short(root: Path) -> str:
    return compared(root / ARCHIVE / "reality_gap" / "frozen_vs_short_budget.csv", "short budget",
                    "frozen configuration", PREVIOUS.get("labels"))


def targets(root: Path) -> str:
    """The reality-gap issue's targets (conf/protocol/previous.yaml), each read from the committed results."""
    return rt.targets_table(read(root / ARCHIVE / "headline.csv"), read(root / ARCHIVE / "paired_differences.csv"),
                            read(root / ARCHIVE / "default" / "all_tests.csv"), CATALOG, PREVIOUS)


def step_speed(root: Path, name: str = "step_speed") -> str:
    import json

    path = root / "benchmarks" / f"{name}.json"
    if not path.is_file():
        return "(not run)"
    rows = json.loads(path.read_text())["rows"]
    base = {r["data"]: r["images_per_s"] for r in rows if r["variant"] == "fp32"}
    lines = ["| batches | variant | images/s | vs fp32 | data / forward / backward / optimiser (share of a step) |",
             "|---|---|---|---|---|"]
    for r in rows:
        sh = r["share"]
        lines.append(f"| {'Model A (synthetic)' if r['data'] == 'synth' else 'Model B (real)'} | {r['variant']} | "
                     f"{r['images_per_s']:.1f} | {r['images_per_s'] / base[r['data']]:.2f}x | "
                     f"{sh['data']:.2f} / {sh['forward']:.2f} / {sh['backward']:.2f} / {sh['optimiser']:.2f} |")
    return "\n".join(lines)


def learning_curves(root: Path, name: str = "learning_curves") -> str:
    path = root / ARCHIVE / "reality_gap" / f"{name}.csv"
    if not path.is_file():
        return "(not run)"
    values = {(r["run"], r["tag"], int(r["step"])): float(r["value"]) for r in read(path)}
    series = [("model_a", "val_real/dice_mean", "Model A, real val"), ("model_a", "val_synth/dice_mean", "Model A, synthetic val"),
              ("model_b", "val_real/dice_mean", "Model B, real val")]
    series = [x for x in series if any(k[:2] == x[:2] for k in values)]  # only the runs the file holds
    steps = sorted({k[2] for k in values if k[1] == "val_real/dice_mean" and (k[2] + 1) % 400 == 0})
    lines = ["| step | " + " | ".join(n for _, _, n in series) + " |", "|---|" + "---|" * len(series)]
    for step in steps:
        cells = [values.get((run, tag, step)) for run, tag, _ in series]
        lines.append(f"| {step + 1} | " + " | ".join("n/a" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines)


def dixon_shipped(root: Path) -> str:
    """The shipped (seed-0) models on external_dixon's test subjects: one seed, both inference modes."""
    path = root / ARCHIVE / "external_dixon_shipped.csv"
    if not path.is_file():
        return "(not run)"
    rows = {(r["run"], r["model"], r["metric"]): r for r in read(path)}
    pairs = {(r["run"], r["model_a"], r["model_b"], r["metric"]): r for r in read(root / ARCHIVE / "external_dixon_shipped_paired.csv")}
    lines = ["| inference | metric | " + " | ".join(NAMES[m] for m in MODELS) + " | A - B+aug | A - B | C - B+aug |",
             "|---|---|" + "---|" * (len(MODELS) + 3)]
    for run in dict.fromkeys(k[0] for k in rows):  # the inference modes, in the file's order
        for metric in ("vb_dice", "vb_recall", "vb_fp_far"):
            cells = [rows.get((run, m, metric)) for m in MODELS]
            if not any(cells):
                continue
            diffs = [pairs.get((run, "model_a", "model_b_aug", metric)), pairs.get((run, "model_a", "model_b", metric)),
                     _flip(pairs.get((run, "model_b_aug", "model_c", metric)))]
            digits = 0 if metric == "vb_fp_far" else 3
            lines.append(f"| {run} | {metric} | " + " | ".join(ci(c, digits=digits) if c else "n/a" for c in cells) + " | "
                         + " | ".join(ci(d, "diff_mean", digits) if d else "n/a" for d in diffs) + " |")
    return "\n".join(lines)


def _flip(r: dict | None) -> dict | None:
    """A paired row b - a as a - b."""
    if r is None:
        return None
    return {"diff_mean": -float(r["diff_mean"]), "ci_low": -float(r["ci_high"]), "ci_high": -float(r["ci_low"])}


def home_field(root: Path) -> str:
    return table(root, HOME, "mean", "dice", "perturbation")


def _axis(r: dict, axis: str) -> str:
    return f"{float(r[axis]):.3f} [{float(r[axis + '_ci_low']):.3f}, {float(r[axis + '_ci_high']):.3f}]"


def _diff(r: dict, axis: str) -> str:
    if f"{axis}_diff" not in r:
        return "n/a"  # a table without a baseline (e.g. the strength sweep)
    if r[f"{axis}_diff"] in ("nan", "", None):
        return "(baseline)"
    return (f"{float(r[axis + '_diff']):+.3f} [{float(r[axis + '_diff_ci_low']):+.3f}, "
            f"{float(r[axis + '_diff_ci_high']):+.3f}]")


def realism(root: Path, name: str = "screening") -> str:
    """The realism screen on the two validation axes (results/archive/realism/NAME_summary.csv)."""
    path = root / ARCHIVE / "realism" / f"{name}_summary.csv"
    if not path.is_file():
        return "(not run)"
    lines = ["| variant | seeds | in-domain Dice [95% CI] | shift [95% CI] | Dixon vb_dice | TSE Dice | "
             "in-domain vs baseline | shift vs baseline | front |", "|---|---|---|---|---|---|---|---|---|"]
    for r in read(path):
        lines.append(f"| {r['variant']} | {r['n_seeds']} | {_axis(r, 'in_domain')} | {_axis(r, 'shift')} | "
                     f"{float(r['shift_dixon']):.3f} | {float(r['shift_tse']):.3f} | {_diff(r, 'in_domain')} | "
                     f"{_diff(r, 'shift')} | {'yes' if r['on_front'] == 'True' else ''} |")
    return "\n".join(lines)


def lever5(root: Path) -> str:
    """Inference variants of the shipped checkpoints on both validation axes (results/archive/realism/inference_variants.csv)."""
    path = root / ARCHIVE / "realism" / "inference_variants.csv"
    if not path.is_file():
        return "(not run)"
    lines = ["| model | inference | in-domain Dice | shift | Dixon vb_dice | TSE Dice | in-domain vs plain | shift vs plain |",
             "|---|---|---|---|---|---|---|---|"]
    for r in read(path):
        variant = r["variant"][len(r["model"]):].lstrip("+") or "plain"
        lines.append(f"| {r['model']} | {variant} | {float(r['in_domain']):.3f} | {float(r['shift']):.3f} | "
                     f"{float(r['shift_dixon']):.3f} | {float(r['shift_tse']):.3f} | {_diff(r, 'in_domain')} | "
                     f"{_diff(r, 'shift')} |")
    return "\n".join(lines)


def optuna_front(root: Path) -> str:
    """The Optuna study's completed trials on its front (results/archive/realism/optuna_trials.csv), best shift first."""
    path = root / ARCHIVE / "realism" / "optuna_trials.csv"
    if not path.is_file():
        return "(not run)"
    rows = [r for r in read(path) if r["state"] == "COMPLETE"]
    keys = [k for k in rows[0] if "." in k or k == "background"] if rows else []
    lines = [f"{len(rows)} completed trials; on the front:", "",
             "| trial | in-domain | shift | Dixon | TSE | " + " | ".join(".".join(k.split(".")[-2:]) for k in keys) + " |",
             "|---|---|---|---|---|" + "---|" * len(keys)]
    for r in sorted((r for r in rows if r["on_front"] == "True"), key=lambda r: -float(r["shift"])):
        cells = [r[k] if k == "background" else f"{float(r[k]):.2f}" for k in keys]
        lines.append(f"| {r['trial']} | {float(r['in_domain']):.3f} | {float(r['shift']):.3f} | "
                     f"{float(r['shift_dixon']):.3f} | {float(r['shift_tse']):.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def freeze(root: Path, reference: str, mode: str | None = None) -> str:
    """The freeze candidates on both validation axes (results/archive/freeze/validation_models.csv or _modes.csv):
    reference "model_b_aug" / "model_a" (each model against it, per mode and post-processing) or "modes" (each
    model's modes and column band against its own sliding window); `mode`: only that inference mode's rows."""
    path = root / ARCHIVE / "freeze" / ("validation_modes.csv" if reference == "modes" else "validation_models.csv")
    if not path.is_file():
        return "(not run)"
    rows = [r for r in read(path) if (reference == "modes" or r["reference"] == reference)
            and mode in (None, r["mode"])]
    if reference == "model_b_aug":  # the plain models; the column band's rows are in the CSV
        rows = [r for r in rows if r["postprocess"] == "none"]
    against = "its sliding window" if reference == "modes" else reference
    lines = [f"| model | inference | seeds | in-domain Dice [95% CI] | shift [95% CI] | Dixon vb_dice | TSE Dice | "
             f"in-domain vs {against} | shift vs {against} |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        post = "" if r["postprocess"] == "none" else " + column"
        lines.append(f"| {r['model']} | {r['mode']}{post} | {r['n_seeds']} | {_axis(r, 'in_domain')} | "
                     f"{_axis(r, 'shift')} | {float(r['shift_dixon']):.3f} | {float(r['shift_tse']):.3f} | "
                     f"{_diff(r, 'in_domain')} | {_diff(r, 'shift')} |")
    return "\n".join(lines)


def freeze_grid(root: Path) -> str:
    """Each freeze candidate (rows) under each inference mode and post-processing (columns): in-domain / shift
    validation Dice, 3 seeds (results/archive/freeze/validation_modes.csv; CIs and paired differences there)."""
    path = root / ARCHIVE / "freeze" / "validation_modes.csv"
    if not path.is_file():
        return "(not run)"
    rows = read(path)
    cols = sorted({(r["mode"], r["postprocess"]) for r in rows}, key=lambda c: (c[1] != "none", c[0]))
    cell = {(r["model"], r["mode"], r["postprocess"]): r for r in rows}
    head = [m.replace("_", " ") + ("" if p == "none" else " + column") for m, p in cols]
    lines = ["| model (seeds) | " + " | ".join(head) + " |", "|---|" + "---|" * len(cols)]
    for model in dict.fromkeys(r["model"] for r in rows):
        cells = [cell.get((model, m, p)) for m, p in cols]
        seeds = next(c["n_seeds"] for c in cells if c)
        lines.append(f"| {model} ({seeds}) | " + " | ".join(
            f"{float(c['in_domain']):.3f} / {float(c['shift']):.3f}" if c else "n/a" for c in cells) + " |")
    return "\n".join(lines)


def freeze_mode_choice(root: Path) -> str:
    """Per model, each other inference mode and the column band minus its sliding window, paired over validation
    patients and seeds (results/archive/freeze/validation_modes.csv): the numbers behind the mode and band choices."""
    path = root / ARCHIVE / "freeze" / "validation_modes.csv"
    if not path.is_file():
        return "(not run)"
    rows = [r for r in read(path) if r["in_domain_diff"] != "nan"]
    cols = [("full_pass", "none", "full pass"), ("large_window", "none", "large window"),
            (MODE, "+column", "column band")]
    cell = {(r["model"], r["mode"], r["postprocess"]): r for r in rows}
    lines = ["| model | " + " | ".join(f"{c[2]}: in-domain | {c[2]}: shift" for c in cols) + " |",
             "|---|" + "---|---|" * len(cols)]
    for model in dict.fromkeys(r["model"] for r in rows):
        cells = [cell.get((model, m, p)) for m, p, _ in cols]
        lines.append(f"| {model} | " + " | ".join(f"{_diff(c, 'in_domain')} | {_diff(c, 'shift')}" if c else "n/a | n/a"
                                                  for c in cells) + " |")
    return "\n".join(lines)


def freeze_hd95(root: Path) -> str:
    """Vertebra HD95 (mm) on the validation patients: each freeze candidate (rows) under each inference mode
    without and with the column band (columns), mean [95% CI] over patients and seeds."""
    path = root / ARCHIVE / "freeze" / "validation_hd95.csv"
    if not path.is_file():
        return "(not run)"
    rows = read(path)
    split = [(r["model"].split("@")[0], r["model"].split("@")[1], r) for r in rows]
    modes = list(dict.fromkeys(m for _, m, _ in split))
    cols = [(v, m) for v in ("", "+column") for m in modes]
    cell = {(name, m): r for name, m, r in split}
    lines = ["| model (patients x seeds) | " + " | ".join(m.replace("_", " ") + (" + column" if v else "")
                                                        for v, m in cols) + " |", "|---|" + "---|" * len(cols)]
    for model in dict.fromkeys(n for n, _, _ in split if "+" not in n):
        first = next(r for n, _, r in split if n == model)
        lines.append(f"| {model} ({first['n_patients']} x {first['n_seeds']}) | " + " | ".join(
            ci(cell[(model + v, m)], digits=1) if (model + v, m) in cell else "n/a" for v, m in cols) + " |")
    return "\n".join(lines)


def final_headline(root: Path, entry: dict = FINAL) -> str:
    """A frozen experiment (results/<entry results>/headline.csv): each real test x model, mean [95% CI], 3 seeds."""
    path = root / entry["results"] / "headline.csv"
    return rt.headline_table(read(path), CATALOG, entry) if path.is_file() else "(not run)"


def final_differences(root: Path, entry: dict = FINAL) -> str:
    """The pre-registered paired comparisons of a frozen experiment (results/protocol.md, entries 3 and 5)."""
    path = root / entry["results"] / "paired_differences.csv"
    return rt.differences_table(read(path), CATALOG, entry) if path.is_file() else "(not run)"


def final_targets(root: Path, entry: dict = FINAL) -> str:
    """A freeze-and-test issue's targets (conf/protocol/final.yaml, volume_freeze.yaml) from its results."""
    final = root / entry["results"]
    if not (final / "headline.csv").is_file():
        return "(not run)"
    return rt.targets_table(read(final / "headline.csv"), read(final / "paired_differences.csv"),
                            read(final / "default" / "all_tests.csv"), CATALOG, entry)


def freeze_decisions(root: Path) -> str:
    """The volume freeze's decisions on the validation axes (results/volume_freeze/decision.json): per model the
    negatives, the volume rule and the mode, with the measured differences and the reasons."""
    path = root / VOLUME_FREEZE["results"] / "decision.json"
    if not path.is_file():
        return "(not run)"
    decisions = json.loads(path.read_text())["decisions"]
    lines = ["| model | negatives (in-domain vs entry 3; false spine, no rule) | volume rule (vb_dice3d; false spine) "
             "| mode |", "|---|---|---|---|"]
    for model, d in decisions.items():
        def cell(lever, axis):
            v = d[lever]
            if v["keep"] is None:
                return "n/a: " + "; ".join(v["reasons"])
            return (f"{'kept' if v['keep'] else 'not kept'}: {v[axis]:+.3f}; {v['false_spine_ml']:+.1f} mL"
                    + (f" ({'; '.join(v['reasons'])})" if v["reasons"] else ""))
        lines.append(f"| {rt.model_name(CATALOG, model)} | {cell('negatives', 'in_domain')} | "
                     f"{cell('volume_rule', 'vb_dice3d')} | {d['mode']['mode']} |")
    return "\n".join(lines)


def freeze_axes(root: Path) -> str:
    """The volume freeze's runs on the three validation axes (results/volume_freeze/validation_axes.csv): each model
    under each mode, and entry 3's configuration beside it; mean [95% CI over patients and seeds] (n seeds)."""
    path = root / VOLUME_FREEZE["results"] / "validation_axes.csv"
    if not path.is_file():
        return "(not run)"
    rows = read(path)
    axes = ["in_domain", "shift_dixon", "shift_tse", "vb_dice3d", "false_spine_ml", "false_spine_slices"]
    index = {(r["label"], r["axis"]): r for r in rows}
    labels = sorted({r["label"] for r in rows}, key=lambda x: (x.startswith("entry3_"), x))
    lines = ["| run (model [+no rule] @ mode) | " + " | ".join(axes) + " | seeds |", "|---|" + "---|" * (len(axes) + 1)]
    for label in labels:
        cells = [index.get((label, a)) for a in axes]
        seeds = "/".join(sorted({c["n_seeds"] for c in cells if c}))
        lines.append(f"| {label} | " + " | ".join(rt.ci(c, digits=rt.METRIC_DIGITS.get(a, 3)) if c else "n/a"
                                                   for c, a in zip(cells, axes)) + f" | {seeds} |")
    return "\n".join(lines)


def entry_keys(entry: dict) -> dict[str, tuple[str, tuple]]:
    """{row name: (family, (test, variant, structure, metric))} of a protocol entry's families; "family:metric" rows
    take the family's key with another metric (e.g. dixon_volumes:false_spine_ml)."""
    out = {}
    for name in entry["families"]:
        family, _, metric = name.partition(":")
        key = families.headline_keys(CATALOG, [family])[family]
        out[name] = (family, (*key[:3], metric) if metric else key)
    return out


def inference_modes(root: Path, entry: dict | None = None) -> str:
    """Every real test under every inference mode, the frozen models of `entry` (default: entry 3,
    results/archive/final/inference_mode.csv)."""
    entry = entry or FINAL
    path = root / entry["results"] / "inference_mode.csv"
    if not path.is_file():
        return "(not run)"
    rows = read(path)
    modes = list(dict.fromkeys(r["run"] for r in rows))
    index = {(r["run"], r["model"], r["test"], r["variant"], r["structure"], r["metric"]): r for r in rows}
    lines = ["| real test set | model | " + " | ".join(modes) + " |", "|---|---|" + "---|" * len(modes)]
    for name, (family, key) in entry_keys(entry).items():
        for m in entry["models"]:
            cells = [index.get((mode, m, *key)) for mode in modes]
            if any(cells):
                label = rt.family_label(CATALOG, family, [c for c in cells if c]) + (f": {key[3]}" if ":" in name else "")
                lines.append(f"| {label} | {m} | " + " | ".join(ci(c) if c else "n/a" for c in cells) + " |")
    return "\n".join(lines)


def inference_mode_differences(root: Path, entry: dict | None = None) -> str:
    """The pre-registered comparisons (the entry's mode_pairs; default entry 3) on every real test under every
    inference mode (inference_mode_paired.csv): where a conclusion depends on the mode, this shows it."""
    entry = entry or FINAL
    path = root / entry["results"] / "inference_mode_paired.csv"
    if not path.is_file():
        return "(not run)"
    rows = read(path)
    modes = list(dict.fromkeys(r["run"] for r in rows))
    pair = rt.pair_index(rows, ("run", "test", "variant", "structure", "metric"))
    lines = ["| real test set | comparison | " + " | ".join(m.replace("_", " ") for m in modes) + " |",
             "|---|---|" + "---|" * len(modes)]
    for name, (family, key) in entry_keys(entry).items():
        for a, b in entry["mode_pairs"]:
            cells = [pair.get((mode, *key, a, b)) for mode in modes]
            if any(cells):
                label = rt.family_label(CATALOG, family, [c for c in cells if c]) + (f": {key[3]}" if ":" in name else "")
                lines.append(f"| {label} | {rt.pair_name((a, b))} | "
                             + " | ".join(ci(c, "diff_mean", signed=True) if c else "n/a" for c in cells) + " |")
    return "\n".join(lines)


def volumes(root: Path, split: str = "test", every_mode: bool = False) -> str:
    """The shipped models on whole volumes (results/archive/volumes/SPLIT.csv; protocol.md entry 4): the configured
    inference mode, or every mode one table after the other."""
    path = root / VOLUMES["results"] / f"{split}.csv"
    if not path.is_file():
        return "(not run)"
    rows = read(path)
    key = "families" if split == "test" else "shift_families"
    runs = list(dict.fromkeys(r["run"] for r in rows)) if every_mode else [MODE]
    return "\n\n".join((f"**{run.replace('_', ' ')}**\n\n" if every_mode else "")
                        + rt.metric_table(rows, CATALOG, VOLUMES, run, key) for run in runs)


def volume_differences(root: Path) -> str:
    path = root / VOLUMES["results"] / "test_paired.csv"
    return rt.metric_differences(read(path), CATALOG, VOLUMES) if path.is_file() else "(not run)"


def volume_compact(root: Path, metrics=("vb_dice3d", "false_spine_ml", "fp_far_ml")) -> str:
    """Whole test volumes under every inference mode, one table: per metric and mode each model's mean [CI] and the
    paired A - B+aug and C - B+aug (conf/protocol/volumes.yaml)."""
    path = root / VOLUMES["results"] / "test.csv"
    if not path.is_file():
        return "(not run)"
    rows, paired_rows = read(path), read(root / VOLUMES["results"] / "test_paired.csv")
    (name,) = VOLUMES["families"]
    f = families.families(CATALOG)[name]
    index = {(r["run"], r["model"], r["metric"]): r for r in rows if (r["test"], r["variant"]) == (f.test, f.variant)}
    pairs = rt.pair_index(paired_rows, ("run", "metric"))
    shown = [p for p in VOLUMES["pairs"] if p[1] == "model_b_aug" and p[0] != "model_b"]
    lines = ["| metric | inference | " + " | ".join(NAMES[m] for m in VOLUMES["models"]) + " | "
             + " | ".join(rt.pair_name(p) for p in shown) + " |", "|---|---|" + "---|" * (len(VOLUMES["models"]) + len(shown))]
    for metric in metrics:
        digits = rt.METRIC_DIGITS.get(metric, 3)
        for run in dict.fromkeys(r["run"] for r in rows):
            cells = [index.get((run, m, metric)) for m in VOLUMES["models"]]
            diffs = [pairs.get((run, metric, *p)) for p in shown]
            lines.append(f"| {metric} | {run.replace('_', ' ')} | " + " | ".join(ci(c, digits=digits) if c else "n/a"
                                                                             for c in cells) + " | "
                         + " | ".join(ci(d, "diff_mean", digits, signed=True) if d else "n/a" for d in diffs) + " |")
    return "\n".join(lines)


def volume_qc(root: Path) -> str:
    """The per-slice quality flag against the lateral slices holding false spine (shift-validation volumes)."""
    path = root / VOLUMES["results"] / "qc_flag.csv"
    if not path.is_file():
        return "(not run)"
    lines = ["| model | threshold | volumes | lateral slices | with false spine (> 100 mm^3) | flagged | recall | "
             "precision (lateral) | other slices flagged | precision (all flagged slices) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in read(path):
        lines.append(f"| {NAMES.get(r['model'], r['model'])} | {float(r['threshold']):.4f} | {r['n_volumes']} | "
                     f"{r['lateral_slices']} | {r['false_spine_slices']} | {r['flagged_lateral']} | "
                     f"{float(r['recall']):.2f} | {float(r['precision']):.2f} | {float(r['flagged_other_share']):.2f} | "
                     f"{float(r['precision_all_slices']):.2f} |")
    return "\n".join(lines)


def volume_rule(root: Path, metrics=("vb_dice3d", "vb_recall3d", "false_spine_ml", "false_spine_slices")) -> str:
    """The adopted volume rule against none on the shift-validation volumes: per model the means without and with
    it and the paired difference [95 % CI] (results/archive/volume_rule/, scripts/screen_volume_rule.py)."""
    folder = root / ARCHIVE / "volume_rule"
    if not (folder / "choice.json").is_file():
        return "(not run)"
    rule = json.loads((folder / "choice.json").read_text())["chosen"]
    means = defaultdict(list)
    for r in read(folder / "per_patient.csv"):
        if r["test"] == "shift_validation_volumes" and r["metric"] in metrics:
            means[(r["model"], r["metric"])].append(float(r["value"]))
    diffs = {(r["model"], r["metric"]): r for r in read(folder / "paired.csv")
             if r["rule"] == rule and r["test"] == "shift_validation_volumes"}
    lines = ["| model | " + " | ".join(f"{m}: none / {rule} / difference" for m in metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    for model in dict.fromkeys(k[0] for k in diffs):
        cells = []
        for m in metrics:
            d = diffs[(model, m)]
            none, ruled = (np.mean(means[(f"{model}+{x}", m)]) for x in ("none", rule))
            cells.append(f"{none:.3f} / {ruled:.3f} / {float(d['diff_mean']):+.3f} [{float(d['ci_low']):+.3f}, "
                         f"{float(d['ci_high']):+.3f}]")
        lines.append(f"| {NAMES.get(model, model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def absence(root: Path) -> str:
    """The absence screen (results/archive/absence/): per run the three validation axes (volume metrics with the volume
    rule / without) and its paired difference to its model's baseline run on in-domain Dice and false spine."""
    folder = root / ARCHIVE / "absence"
    if not (folder / "runs.csv").is_file():
        return "(not run)"
    diffs = {(r["run"], r["axis"], r["volume_rule"]): r for r in read(folder / "paired.csv")}
    named = json.loads((folder / "candidates.json").read_text())

    def diff(run, axis, rule="True", fmt="+.3f"):
        d = diffs.get((run, axis, rule))
        return "" if d is None else (f"{float(d['diff_mean']):{fmt}} [{float(d['ci_low']):{fmt}}, "
                                     f"{float(d['ci_high']):{fmt}}]")
    lines = ["| run | in-domain Dice | shift slices | vb_dice3d | false spine mL (rule / none) | false-spine slices "
             "(rule / none) | in-domain vs base | false spine vs base (rule) | candidate |", "|---" * 9 + "|"]
    for r in read(folder / "runs.csv"):
        f = lambda k, d=3: f"{float(r[k]):.{d}f}"  # noqa: E731
        mark = "yes" if r["run"] in named.get(r["group"], {}).get("candidates", []) else ""
        lines.append(f"| {r['run']} | {f('in_domain')} | {f('shift_slices')} | {f('vb_dice3d')} | "
                     f"{f('false_spine_ml', 1)} / {f('false_spine_ml_no_rule', 1)} | {f('false_spine_slices', 2)} / "
                     f"{f('false_spine_slices_no_rule', 2)} | {diff(r['run'], 'in_domain')} | "
                     f"{diff(r['run'], 'false_spine_ml', fmt='+.1f')} | {mark} |")
    return "\n".join(lines)


SECTIONS = {
    "headline": lambda r: headline(r / ARCHIVE), "paired_key": lambda r: paired(r / ARCHIVE, PREVIOUS["pairs"]),
    "paired": lambda r: paired(r / ARCHIVE), "protocols": protocols,
    "inference_choice": inference_choice, "full_pass_headline": lambda r: headline(r / ARCHIVE / "full_pass"),
    "per_structure": per_structure, "external": external, "home_field": home_field, "screening": screening,
    "step_speed": step_speed, "step_speed_previous": lambda r: step_speed(r, "step_speed_previous_machine"), "learning_curves": learning_curves, "confirmation": confirmation,
    "frozen_vs_short": frozen_vs_short, "targets": targets,
    "learning_curves_6k": lambda r: learning_curves(r, "learning_curves_6k"),
    "candidate_real_clusters": lambda r: confirmation(r, "candidate_real_clusters"),
    "short_headline": lambda r: headline(r / ARCHIVE / "short_budget"), "dixon_shipped": dixon_shipped,
    "realism_screen": realism, "realism_strength": lambda r: realism(r, "strength"), "realism_lever5": lever5,
    "realism_optuna": optuna_front,
    "freeze_vs_b_aug": lambda r: freeze(r, "model_b_aug"), "freeze_vs_a": lambda r: freeze(r, "model_a"),
    "freeze_modes": lambda r: freeze(r, "modes"), "freeze_hd95": freeze_hd95, "freeze_grid": freeze_grid,
    "freeze_chosen": lambda r: freeze(r, "model_b_aug", MODE), "freeze_mode_choice": freeze_mode_choice,
    "final_headline": final_headline, "final_differences": final_differences, "final_targets": final_targets,
    "inference_mode": inference_modes, "inference_mode_differences": inference_mode_differences,
    "volume_headline": volumes, "volume_modes": lambda r: volumes(r, every_mode=True),
    "volume_shift": lambda r: volumes(r, "shift_val", every_mode=True), "volume_differences": volume_differences,
    "volume_qc": volume_qc, "volume_compact": volume_compact, "volume_rule": volume_rule,
    "absence": absence,
    "vf_headline": lambda r: final_headline(r, VOLUME_FREEZE), "vf_differences": lambda r: final_differences(r, VOLUME_FREEZE),
    "vf_targets": lambda r: final_targets(r, VOLUME_FREEZE), "vf_decisions": freeze_decisions, "vf_axes": freeze_axes,
    "vf_modes": lambda r: inference_modes(r, VOLUME_FREEZE),
    "vf_vs_entry3": lambda r: compared(r / VOLUME_FREEZE["results"] / "vs_entry3.csv", "entry 3", "with negatives"),
    "vf_mode_differences": lambda r: inference_mode_differences(r, VOLUME_FREEZE),
}


def fill_text(root: Path, text: str, name_of_file: str = "text") -> str:
    """`text` with every `<!-- table:NAME -->` block replaced by the table NAME read from `root`."""
    import re

    for name in set(re.findall(r"<!-- table:(\w+) -->", text)):
        if name not in SECTIONS or f"<!-- /table:{name} -->" not in text:
            raise SystemExit(f"error: {name_of_file}: table marker {name!r} is unknown or not closed; "
                             f"tables: {sorted(SECTIONS)}.")
        block = re.compile(rf"(<!-- table:{name} -->\n)(?:.*?\n)?(<!-- /table:{name} -->)", re.S)
        text = block.sub(lambda m: m.group(1) + SECTIONS[name](root) + "\n" + m.group(2), text)
    return text


def fill(root: Path, files: list[Path]) -> None:
    for path in files:
        path.write_text(fill_text(root, path.read_text(), str(path)))
        print(f"filled {path}")


def main(argv: list[str] | None = None) -> None:
    """python scripts/make_tables.py RESULTS [--fill FILE ...]: every table to stdout, or filled into the files."""
    argv = sys.argv[1:] if argv is None else argv
    root = Path(argv[0])
    if len(argv) > 1 and argv[1] == "--fill":
        fill(root, [Path(f) for f in argv[2:]])
        return
    print("## The volume freeze on the validation axes (results/volume_freeze/; protocol.md entry 5): decisions\n\n"
          + freeze_decisions(root) + "\n\n" + freeze_axes(root))
    print("\n## The volume freeze, scored once (results/volume_freeze/)\n\n" + final_headline(root, VOLUME_FREEZE)
          + "\n\n" + final_differences(root, VOLUME_FREEZE) + "\n\n" + final_targets(root, VOLUME_FREEZE))
    print("\n## The volume freeze under every inference mode (seed 0 under the others)\n\n"
          + inference_modes(root, VOLUME_FREEZE) + "\n\n" + inference_mode_differences(root, VOLUME_FREEZE))
    print("\n## Whole volumes, every slice: the shipped models (seed 0; results/archive/volumes/; protocol.md entry 4)\n\n"
          + volumes(root, every_mode=True) + "\n\n" + volume_differences(root))
    print("\n## Whole volumes: shift-validation volumes (every mode) and the quality flag\n\n"
          + volumes(root, "shift_val", every_mode=True) + "\n\n" + volume_qc(root))
    print("\n## The volume rule, chosen on the shift-validation volumes (results/archive/volume_rule/; every candidate in its "
          "summary.md)\n\n" + volume_rule(root))
    print("\n## Teaching the absence of spine: the screen on the validation axes (results/archive/absence/; short budget, one "
          "seed)\n\n" + absence(root))
    print("\n## The frozen experiment, scored once (results/archive/final/; protocol.md entry 3)\n\n" + final_headline(root))
    print("\n## The frozen experiment: pre-registered paired differences\n\n" + final_differences(root))
    print("\n## The frozen experiment: targets\n\n" + final_targets(root))
    print("\n## The frozen experiment under every inference mode (absolute)\n\n" + inference_modes(root))
    print("\n## The frozen experiment under every inference mode (paired)\n\n" + inference_mode_differences(root))
    print("\n## The freeze on the validation axes (results/archive/freeze/)\n\n" + freeze(root, "model_b_aug", MODE)
          + "\n\n" + freeze_mode_choice(root) + "\n\n" + freeze_hd95(root))
    print("\n## Headline of the previous experiment (results/archive/headline.csv): real images, whole slices (mean over 3 "
          "seeds, 95% CI over patients and seeds)\n\n" + headline(root / ARCHIVE))
    print("\n## Paired differences of the previous experiment (per patient; CI over patients and each model's seeds)"
          "\n\n" + paired(root / ARCHIVE))
    print("\n## The shipped models (seed 0) on external_dixon's test subjects (one seed; results/protocol.md, entry 1)"
          "\n\n" + dixon_shipped(root))
    print("\n## Old crop protocol vs whole slices (mean Dice, seed 0 unless stated)\n\n" + protocols(root))
    print("\n## Inference on the real validation patients (mean Dice)\n\n" + inference_choice(root))
    if (root / ARCHIVE / "full_pass" / "headline.csv").is_file():
        print("\n## Headline with the earlier full-pass inference (its own checkpoint selection, 3 seeds)\n\n"
              + headline(root / ARCHIVE / "full_pass"))
        print("\n## Paired differences with full-pass inference\n\n" + paired(root / ARCHIVE / "full_pass"))
    print("\n## Per structure\n\n" + per_structure(root))
    print("\n## External (vertebral bodies only), by appearance and sequence\n\n" + external(root))
    seeds = sorted({r["n_seeds"] for r in read(root / ARCHIVE / "default" / "all_tests.csv") if r["test"] in ("contrast", "resolution")})
    print(f"\n## Home-field tests (built from the generator's operators / intensity model; mean Dice; "
          f"{'/'.join(seeds)} seed(s), 95% CI over patients)\n\n" + home_field(root))
    print("\n## Reality-gap screening on the real validation patients (one change each, seed 0)\n\n" + screening(root))
    print("\n## Training-step speed levers (2-core CPU, today's machine: AVX512-BF16, no AMX)\n\n" + step_speed(root))
    print("\n## Training-step speed levers on the machine of the experiments\n\n"
          + step_speed(root, "step_speed_previous_machine"))
    print("\n## Learning curves (seed 0, 4,000 steps, warmup-stable-decay, bf16)\n\n" + learning_curves(root))
    print("\n## Learning curve to 6,000 steps (seed 0, the frozen configuration)\n\n" + learning_curves(root, "learning_curves_6k"))
    print("\n## Frozen configuration, 3-seed confirmation on the real validation patients\n\n" + confirmation(root))
    print("\n## Candidate after the freeze (validation only): real-intensity cluster sub-labels\n\n"
          + confirmation(root, "candidate_real_clusters"))
    print("\n## Frozen configuration vs short budget on the tests (tested once)\n\n" + frozen_vs_short(root))
    print("\n## Reality-gap targets\n\n" + targets(root))
    if (root / ARCHIVE / "short_budget" / "headline.csv").is_file():
        print("\n## Headline of the earlier short-budget experiment (800 fp32 steps)\n\n"
              + headline(root / ARCHIVE / "short_budget"))


if __name__ == "__main__":
    main()
