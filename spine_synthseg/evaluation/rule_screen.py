"""Screening volume rules (``models/volume_rule.py``) on validation data only, never a test.

Each model segments each validation family once (the frozen inference mode, with the modes quality score that the
present rule reads); every candidate rule is then applied to the same predictions, so candidates differ only in
the rule. Axes (``conf/rule_screen/default.yaml``):
  volumes  the shift-validation water-image volumes, every slice: vb_dice3d, false_spine_ml, false_spine_slices,
           fp_far_ml (``volume_metrics``);
  slices   the in-domain validation patients and the TSE shift-validation third, Dice per structure: their slices
           as stacks where a series holds consecutive slices of a known slice spacing (``stacks``), so a rule that
           cuts true anatomy loses Dice there.
A candidate is adopted only if, for every model, its paired difference to no rule has a CI lower bound above
`margin` on vb_dice3d and on each slice family's Dice while false_spine_ml falls (CI upper bound below 0); of
those, the one with the largest mean fall of false_spine_ml over the models.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from spine_synthseg.config import PROJECT_ROOT, to_dict
from spine_synthseg.data import families
from spine_synthseg.data.png_folder import load_dataset_json
from spine_synthseg.data.records import SliceRecord
from spine_synthseg.data.stacks import consecutive_runs
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.cases import EvalCase, VolumeCase, build_cases
from spine_synthseg.evaluation.collect import long_table, paired, write_csv
from spine_synthseg.evaluation.evaluate import image_rows
from spine_synthseg.evaluation.run_split import run_split
from spine_synthseg.evaluation.volume_evaluation import body_values, segmented_volume, volume_row
from spine_synthseg.evaluation.volume_metrics import volume_metrics
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import segment_slices
from spine_synthseg.models.quality import quality_scores
from spine_synthseg.models.volume_rule import VolumeRule, apply_rule


def stacks(records: Sequence[SliceRecord], slice_mm: float | None) -> list[list[int]]:
    """Indices of `records` grouped into stacks (``data/stacks.py``); every slice alone when the slice spacing is
    unknown (slice_mm None)."""
    if slice_mm is None:
        return [[i] for i in range(len(records))]
    return consecutive_runs([r.name for r in records], [r.series or r.patient_id for r in records],
                            [r.image.shape for r in records], [r.spacing_mm for r in records])


def slice_spacing(root: Path) -> float | None:
    """The slice spacing (mm) of a slice folder: its dataset.json's slice_thickness_mm (None when not stated)."""
    value = load_dataset_json(root).get("slice_thickness_mm")
    return float(value) if value else None


def slice_family_rows(name: str, model, case: EvalCase, slice_mm: float | None, rules: Mapping[str, VolumeRule],
                      mode: str, second_mode: str, seed) -> list[dict]:
    """Image rows (``evaluate.image_rows``) of one model on a slice family, once per rule, as model "<name>+<rule>"."""
    images = [case.image(i) for i in range(len(case.records))]
    spacings = [r.spacing_mm for r in case.records]
    preds = segment_slices(model, images, spacings, mode=mode)
    scores = np.asarray(quality_scores(model, images, spacings, preds, "modes", mode, second_mode))
    groups = stacks(case.records, slice_mm)
    rows = []
    for rule_name, rule in rules.items():
        cleaned = list(preds)
        for idx in groups:
            spacing = (slice_mm or 1.0, *spacings[idx[0]])
            out, _ = apply_rule(np.stack([preds[i] for i in idx]), spacing, rule, scores[idx])
            for j, i in enumerate(idx):
                cleaned[i] = out[j]
        for i, pred in enumerate(cleaned):
            rows += image_rows(f"{name}+{rule_name}", case, i, pred, False, seed)
    return rows


def volume_family_rows(name: str, model, case: VolumeCase, rules: Mapping[str, VolumeRule], mode: str,
                       second_mode: str, seed, keep: dict | None = None) -> list[dict]:
    """Volume rows of one model on a volume family, once per rule, as model "<name>+<rule>"; keep: a dict that
    receives {subject: (slices, labels, bodies, scores, spacing)} (figures)."""
    values = body_values(Path(case.volumes[0].image).parents[1])
    rows = []
    for v in tqdm(case.volumes, desc=f"screen {name} volumes", leave=False):
        _, _, slices, labels, target, spacing, scores = segmented_volume(model, v, values, mode, ("modes", second_mode))
        if keep is not None:
            keep[v.subject] = (slices, labels, target, scores, spacing)
        for rule_name, rule in rules.items():
            out, removed = apply_rule(labels, spacing, rule, scores)
            m = volume_metrics(out, target, spacing)
            in_range = slice(m["first"], m["last"] + 1)
            rows.append({**volume_row(seed, f"{name}+{rule_name}", case, v.subject, m),
                         "removed_ml": float(sum(r.sum() for r in removed.values()) / 1000),
                         "removed_in_range_ml": float(sum(r[in_range].sum() for r in removed.values()) / 1000)})
    return rows


def decide(long: list[dict], models: Sequence[str], rules: Sequence[str], checks: Sequence[Mapping], margin: float,
           n_boot: int, confidence: float, seed: int) -> tuple[list[dict], dict]:
    """(paired rows of every candidate against "none" per model, the choice). checks: {test, variant, structure,
    metric} the candidate may not lose more than `margin` on (CI lower bound); false_spine_ml must fall."""
    pairs = [(f"{m}+{r}", f"{m}+none") for m in models for r in rules if r != "none"]
    rows = paired(long, pairs, n_boot, confidence, seed)
    for r in rows:
        r["model"], r["rule"] = r["model_a"].split("+", 1)
    by = {(r["model"], r["rule"], r["test"], r["variant"], r["structure"], r["metric"]): r for r in rows}
    verdicts = {}
    for rule in (r for r in rules if r != "none"):
        reasons, falls = [], []
        for m in models:
            for c in checks:
                row = by.get((m, rule, c["test"], c["variant"], c["structure"], c["metric"]))
                if row is None:
                    raise DataError(f"no paired row for {m} {rule} on {c}; is the family in the screen?")
                if not row["ci_low"] > margin:
                    reasons.append(f"{m}: {c['metric']} on {c['test']}/{c['variant']} CI low {row['ci_low']:+.4f} "
                                   f"<= {margin:+g}")
            fs = next(r for k, r in by.items() if k[:2] == (m, rule) and k[5] == "false_spine_ml")
            falls.append(fs["diff_mean"])
            if not fs["ci_high"] < 0:
                reasons.append(f"{m}: false_spine_ml does not fall (CI high {fs['ci_high']:+.2f} mL)")
        verdicts[rule] = {"adopt": not reasons, "false_spine_ml_change_mean": float(np.mean(falls)),
                          "reasons": reasons}
    adopted = [r for r, v in verdicts.items() if v["adopt"]]
    chosen = min(adopted, key=lambda r: verdicts[r]["false_spine_ml_change_mean"]) if adopted else "none"
    return rows, {"chosen": chosen, "margin": margin, "candidates": verdicts}


def _shown(path: str | Path) -> str:
    """A path relative to the checkout where it lies inside it (results name no machine's folders)."""
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def run_screen(cfg, checkpoints: Mapping[str, str | Path], rules: Mapping[str, VolumeRule], out: Path,
               keep: dict | None = None) -> dict:
    """Screen `rules` (name -> rule, "none" among them) with each checkpoint on the families of ``cfg.rule_screen``
    (the config composed with evaluation.tests set to their groups); writes rows.csv, per_patient.csv, paired.csv
    and choice.json under out and returns the choice. keep: {model: {subject: ...}} of the volumes (figures)."""
    screen = cfg.rule_screen
    if "none" not in rules:
        raise DataError("the rule screen compares every candidate with no rule; list none among rule_screen.candidates.")
    catalog = to_dict(cfg.catalog)
    chosen = families.families(catalog)
    wanted = {(chosen[f].test, chosen[f].variant): chosen[f] for f in screen.families}
    models = {name: load_checkpoint(path, to_dict(cfg.preprocess)) for name, path in checkpoints.items()}
    split = run_split(cfg, {name: m.hparams.get("splits") for name, m in models.items()})
    cases = [c for c in build_cases(cfg, split)[0] if (c.test, c.variant) in wanted]
    missing = sorted(set(screen.families) - {wanted[(c.test, c.variant)].name for c in cases})
    if missing:
        raise DataError(f"rule_screen.families {missing} are not built by evaluation.tests={list(cfg.evaluation.tests)};"
                        f" add their groups.")
    mode, second = str(cfg.evaluation.inference_mode), str(cfg.evaluation.quality_second_mode)
    rows: list[dict] = []
    for name, model in models.items():
        seed = "" if model.hparams.get("seed") is None else int(model.hparams.seed)
        for case in cases:
            if isinstance(case, VolumeCase):
                kept = None if keep is None else keep.setdefault(name, {})
                rows += volume_family_rows(name, model, case, rules, mode, second, seed, kept)
            else:
                root = Path(wanted[(case.test, case.variant)].source["root"])
                rows += slice_family_rows(name, model, case, slice_spacing(root), rules, mode, second, seed)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "rows.csv", rows)  # every image and volume row (large; results/ keeps volume_rows.csv)
    write_csv(out / "volume_rows.csv", volume_rows(rows))
    long = long_table(rows)
    write_csv(out / "per_patient.csv", long)
    checks = [{**dict(c), "test": chosen[c.family].test, "variant": chosen[c.family].variant} for c in screen.checks]
    paired_rows, choice = decide(long, list(models), list(rules), checks, float(screen.margin),
                                 int(cfg.evaluation.bootstrap_samples), float(cfg.evaluation.confidence),
                                 int(cfg.evaluation.seed))
    write_csv(out / "paired.csv", paired_rows)
    choice.update({"mode": mode, "quality_second_mode": second, "checkpoints": {k: _shown(v) for k, v in checkpoints.items()},
                   "families": list(screen.families), "rules": {k: vars(v) for k, v in rules.items()}})
    (out / "choice.json").write_text(json.dumps(choice, indent=2, default=dict))
    (out / "summary.md").write_text(summary_md(paired_rows, choice, catalog, long))
    return choice


VOLUME_COLUMNS = ("vb_dice3d", "vb_recall3d", "false_spine_ml", "false_spine_slices", "fp_far_ml", "removed_ml",
                  "removed_in_range_ml")


def volume_rows(rows: list[dict]) -> list[dict]:
    """The volume rows of a screen, one per model, rule and subject: the volume metrics and what the rule removed
    (mL, in all and inside the labelled range)."""
    out = []
    for r in rows:
        if "removed_ml" in r and r.get("removed_ml") != "":
            model, rule = r["model"].split("+", 1)
            out.append({"model": model, "rule": rule, "patient": r["patient"], **{k: r[k] for k in VOLUME_COLUMNS}})
    return out


def levels(long: list[dict], rules: Sequence[str]) -> list[str]:
    """Markdown lines: per model, the mean over subjects of each volume metric without a rule and with `rules`."""
    values = defaultdict(list)
    for r in long:
        if r["metric"] in VOLUME_COLUMNS and r["test"] == "shift_validation_volumes":
            values[(r["model"], r["metric"])].append(float(r["value"]))
    models = list(dict.fromkeys(k[0].split("+")[0] for k in values))
    metrics = [m for m in VOLUME_COLUMNS if any(k[1] == m for k in values)]
    lines = ["| model | rule | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 2) + "|"]
    for model in models:
        for rule in ("none", *rules):
            cells = [np.nanmean(values[(f"{model}+{rule}", m)]) if values.get((f"{model}+{rule}", m)) else float("nan")
                     for m in metrics]
            lines.append(f"| {model} | {rule} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return lines


def summary_md(paired_rows: list[dict], choice: Mapping, catalog: Mapping, long: list[dict] | None = None) -> str:
    """The screen as a markdown table: per candidate and model, the paired difference (rule - none) and its CI on
    each axis, and the verdict with its reasons; with `long`, the volume metrics' means without and with the
    chosen rule."""
    fams = families.families(catalog)
    axes = [(f.test, f.variant, f.structure, m) for f in (fams[n] for n in choice["families"])
            for m in ([f.metric] if f.scoring != "volumes" else [f.metric, "false_spine_ml", "false_spine_slices"])]
    names = {(f.test, f.variant): f.display for f in fams.values()}
    by = {(r["rule"], r["model"], r["test"], r["variant"], r["structure"], r["metric"]): r for r in paired_rows}
    head = [f"{names[(t, v)]}: {m}" for t, v, _, m in axes]
    lines = [f"Volume rules on validation only: each candidate - no rule, per model (mean [95 % CI] over subjects, "
             f"one seed). Adopted: **{choice['chosen']}** (margin {choice['margin']:+g}).", "",
             "| rule | model | " + " | ".join(head) + " | adopted |", "|---" * (len(head) + 3) + "|"]
    for rule, verdict in choice["candidates"].items():
        models = list(dict.fromkeys(k[1] for k in by if k[0] == rule))
        for i, model in enumerate(models):
            cells = []
            for t, v, s, m in axes:
                r = by.get((rule, model, t, v, s, m))
                cells.append("" if r is None else
                             f"{float(r['diff_mean']):+.3f} [{float(r['ci_low']):+.3f}, {float(r['ci_high']):+.3f}]")
            last = ("yes" if verdict["adopt"] else "no: " + "; ".join(verdict["reasons"][:2])) if i == 0 else ""
            lines.append(f"| {rule if i == 0 else ''} | {model} | " + " | ".join(cells) + f" | {last} |")
    if long is not None:
        shown = [choice["chosen"]] if choice["chosen"] != "none" else []
        lines += ["", "Means over the shift-validation volumes without a rule and with the adopted one:", "",
                  *levels(long, shown)]
    return "\n".join(lines) + "\n"
