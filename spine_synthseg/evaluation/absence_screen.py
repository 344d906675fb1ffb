"""The absence screen's collector (results/archive/absence/): runs that teach the absence of spine, on three validation
axes only, each run against its model's baseline run (same budget, same seed).

Axes (long-table keys):
  in_domain           Dice on the T2 SPACE validation patients;
  shift_slices        the mean of vb_dice on the Dixon shift-validation subjects and Dice on the TSE third;
  vb_dice3d, false_spine_ml, false_spine_slices   the 12 shift-validation volumes, with the volume rule (the run's
                      model rows) and without it (its "+no_rule" rows).
A run is named by its run_name without the "absence_" prefix (a_base, a_neg25, b_aug_ghost, ...); its model group
is what comes before the lever (a, b_aug). Candidates for the freeze: per group, the runs on the three-objective
front (in_domain and shift_slices up, false_spine_ml with the rule down) whose in-domain paired CI lower bound
against the baseline stays above `margin`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.collect import evaluation_long, paired, summarise

AXES = {"in_domain": ("validation", "t2_space", "mean", "dice"),
        "shift_dixon": ("shift_validation", "dixon_water", "vertebral_body", "vb_dice"),
        "shift_tse": ("shift_validation", "t2_tse", "mean", "dice"),
        "vb_dice3d": ("shift_validation_volumes", "dixon_water_3d", "vertebral_body", "vb_dice3d"),
        "false_spine_ml": ("shift_validation_volumes", "dixon_water_3d", "vertebral_body", "false_spine_ml"),
        "false_spine_slices": ("shift_validation_volumes", "dixon_water_3d", "vertebral_body", "false_spine_slices")}
VOLUME_AXES = ("vb_dice3d", "false_spine_ml", "false_spine_slices")
PREFIX = "absence_"


def run_name(folder: Path) -> str:
    """The run's name from its metrics.json-side config (run_name), without the screen's prefix."""
    rows = evaluation_long(folder)
    models = sorted({r["model"] for r in rows if "+" not in r["model"]})
    if len(models) != 1:
        raise DataError(f"{folder} holds models {models}; a screen run evaluates one checkpoint.")
    return models[0].removeprefix(PREFIX)


def screen_long(folders: Sequence[Path]) -> list[dict]:
    """The long tables of the runs, each model renamed to its run's name ("+no_rule" kept)."""
    out, seen = [], set()
    for folder in folders:
        long = evaluation_long(folder)
        name = run_name(folder)
        if name in seen:
            raise DataError(f"two runs named {name}; one run per variant and seed.")
        seen.add(name)
        for r in long:
            suffix = r["model"].split("+", 1)[1] if "+" in r["model"] else ""
            out.append({**r, "model": name + (f"+{suffix}" if suffix else "")})
    return out


def group_of(variant: str) -> str:
    """'a_neg25' -> 'a', 'b_aug_neg25' -> 'b_aug' (the model the lever is tried on)."""
    return "b_aug" if variant.startswith("b_aug") else variant.split("_", 1)[0]


def _value(summary: Mapping, variant: str, axis: str, rule: bool = True) -> dict | None:
    model = variant if rule or axis not in VOLUME_AXES else f"{variant}+no_rule"
    return summary.get((model, *AXES[axis]))


def screen_tables(long: list[dict], n_boot: int, confidence: float, seed: int, margin: float
                  ) -> tuple[list[dict], list[dict], dict]:
    """(one row per run: every axis with its CI, the volume axes with and without the rule; one row per run and
    axis: the paired difference to its group's baseline; the named candidates with reasons)."""
    variants = sorted({r["model"] for r in long if "+" not in r["model"]})
    baselines = {group_of(v): v for v in variants if v.endswith("_base")}
    missing = sorted({group_of(v) for v in variants} - set(baselines))
    if missing:
        raise DataError(f"no baseline run (<group>_base) for {missing}.")
    summary = {(r["model"], r["test"], r["variant"], r["structure"], r["metric"]): r
               for r in summarise(long, n_boot, confidence, seed)}
    rows = []
    for v in variants:
        row = {"run": v, "group": group_of(v)}
        for axis in AXES:
            for rule in ((True, False) if axis in VOLUME_AXES else (True,)):
                s = _value(summary, v, axis, rule)
                key = axis if rule else f"{axis}_no_rule"
                row |= {key: s["mean"] if s else float("nan"), f"{key}_ci_low": s["ci_low"] if s else float("nan"),
                        f"{key}_ci_high": s["ci_high"] if s else float("nan")}
        row["shift_slices"] = (row["shift_dixon"] + row["shift_tse"]) / 2
        row["n_seeds"] = int(summary[(v, *AXES["in_domain"])]["n_seeds"])
        rows.append(row)
    pairs = [(v, baselines[group_of(v)]) for v in variants if v != baselines[group_of(v)]]
    pairs += [(f"{a}+no_rule", f"{b}+no_rule") for a, b in pairs]
    keys = {key: axis for axis, key in AXES.items()}
    diffs = [{"run": r["model_a"].split("+")[0], "volume_rule": "+no_rule" not in r["model_a"],
              "axis": keys[(r["test"], r["variant"], r["structure"], r["metric"])], **r}
             for r in paired(long, pairs, n_boot, confidence, seed)
             if (r["test"], r["variant"], r["structure"], r["metric"]) in keys]
    return rows, diffs, candidates(rows, diffs, margin)


def front(rows: Sequence[Mapping]) -> set[str]:
    """The runs no other run of its group matches or beats on in_domain, shift_slices (up) and false_spine_ml with
    the rule (down), and beats on one."""
    def better(a, b):
        x = (a["in_domain"], a["shift_slices"], -a["false_spine_ml"])
        y = (b["in_domain"], b["shift_slices"], -b["false_spine_ml"])
        return all(p >= q for p, q in zip(x, y)) and any(p > q for p, q in zip(x, y))
    return {r["run"] for r in rows
            if not any(better(o, r) for o in rows if o["run"] != r["run"] and o["group"] == r["group"])}


def candidates(rows: Sequence[Mapping], diffs: Sequence[Mapping], margin: float) -> dict:
    """{group: {"candidates": [...], "runs": {run: reasons}}}: front runs whose in-domain CI stays above margin."""
    on_front = front(rows)
    by = {(d["run"], d["axis"], d["volume_rule"]): d for d in diffs}
    out: dict = {}
    for r in rows:
        g = out.setdefault(r["group"], {"candidates": [], "runs": {}})
        reasons = []
        if r["run"] not in on_front:
            reasons.append("not on its group's front (in-domain, shift slices, false spine with the rule)")
        d = by.get((r["run"], "in_domain", True))
        if d is not None and not float(d["ci_low"]) > margin:
            reasons.append(f"in-domain CI low {float(d['ci_low']):+.3f} <= {margin:+g} against the baseline")
        fs = by.get((r["run"], "false_spine_ml", True))
        if fs is not None and not float(fs["ci_high"]) < 0:
            reasons.append(f"false spine (with the rule) does not fall: CI high {float(fs['ci_high']):+.2f} mL")
        g["runs"][r["run"]] = reasons
        if not reasons and d is not None:
            g["candidates"].append(r["run"])
    return out


def front_plot(rows: Sequence[Mapping], path: Path) -> None:
    """Two panels: in-domain Dice against the shift slices, and in-domain Dice against false_spine_ml (with the
    rule: filled; without: open, joined), one colour per group, the front ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    on_front = front(rows)
    colours = {"a": "tab:blue", "b_aug": "tab:orange"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    for r in rows:
        c = colours.get(r["group"], "grey")
        ring = {"edgecolors": "black", "linewidths": 1.5} if r["run"] in on_front else {}
        axes[0].scatter(r["in_domain"], r["shift_slices"], color=c, s=40, **ring)
        axes[0].annotate(r["run"], (r["in_domain"], r["shift_slices"]), fontsize=7, xytext=(3, 3),
                         textcoords="offset points")
        axes[1].plot([r["in_domain"]] * 2, [r["false_spine_ml_no_rule"], r["false_spine_ml"]], color=c, lw=0.8)
        axes[1].scatter(r["in_domain"], r["false_spine_ml"], color=c, s=40, **ring)
        axes[1].scatter(r["in_domain"], r["false_spine_ml_no_rule"], facecolors="none", edgecolors=c, s=40)
        axes[1].annotate(r["run"], (r["in_domain"], r["false_spine_ml"]), fontsize=7, xytext=(3, 3),
                         textcoords="offset points")
    axes[0].set(xlabel="in-domain Dice (T2 SPACE validation)", ylabel="shift slices (Dixon vb_dice, TSE Dice)")
    axes[1].set(xlabel="in-domain Dice (T2 SPACE validation)",
                ylabel="false spine per shift-validation volume (mL)\nfilled: volume rule on, open: off")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Teaching the absence of spine: short budget, one seed, validation only (ringed: front)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)



def collect(results: Path, runs: Sequence[Path], n_boot: int, confidence: float, seed: int, margin: float) -> dict:
    """Write results/archive/absence/: per_patient.csv (the long table), runs.csv, paired.csv, candidates.json, front.png
    and training.csv (each run's commit, seed, steps, training seconds, monitor value: its metrics.json) from the
    screen's run folders; returns the candidates."""
    import json

    from spine_synthseg.evaluation.collect import write_csv

    long = screen_long(runs)
    rows, diffs, named = screen_tables(long, n_boot, confidence, seed, margin)
    results.mkdir(parents=True, exist_ok=True)
    write_csv(results / "per_patient.csv", long)
    write_csv(results / "runs.csv", rows)
    write_csv(results / "paired.csv", diffs)
    (results / "candidates.json").write_text(json.dumps({"margin": margin, **named}, indent=2))
    front_plot(rows, results / "front.png")
    write_csv(results / "training.csv", [training_row(f) for f in runs])
    return named


def training_row(folder: Path) -> dict:
    """One run's facts from its metrics.json (what it trained, on which commit, how long)."""
    import json

    m = json.loads((Path(folder) / "metrics.json").read_text())
    return {"run": str(m["run_name"]).removeprefix(PREFIX), "experiment": m.get("experiment", ""),
            "commit": m.get("commit", ""), "seed": m.get("seed", ""), "max_steps": m.get("max_steps", ""),
            "train_seconds": m.get("train_seconds", ""), "monitor": m.get("monitor", ""),
            "best_val_of_monitor": m.get("best_val_of_monitor", ""),
            "val_real_dice_mean": m.get("validation", {}).get("val_real/dice_mean", "")}
