"""Figures of an evaluation: Dice vs resolution, Dice per test, best / worst overlays per model and test; the
two-axis front of a realism screen."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from spine_synthseg.data import families  # noqa: E402
from spine_synthseg.evaluation.aggregation import STRUCTURES  # noqa: E402
from spine_synthseg.evaluation.axes import pareto_front  # noqa: E402
from spine_synthseg.evaluation.collect import VOLUME_EXTRA  # noqa: E402
from spine_synthseg.visualisation import label_overlay  # noqa: E402


def _resolution_curve(summary: dict, path: Path) -> None:
    agg = [r for r in summary["aggregates"] if r["test"] == "resolution" and r["metric"] == "dice"]
    if not agg:
        return
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), sharey=True)
    native = min(float(r["variant"].split("_")[1][:-2]) for r in agg)
    for ax, s in zip(axes, STRUCTURES):
        for mi, model in enumerate(summary["models"]):
            for kind, style in (("iso", "-"), ("thick", "--")):
                pts = sorted(
                    (float(r["variant"].split("_")[1][:-2]), r["mean"], r["ci_low"], r["ci_high"])
                    for r in agg if r["model"] == model and r["structure"] == s
                    and (r["variant"].startswith(kind) or float(r["variant"].split("_")[1][:-2]) == native)
                )
                if not pts:
                    continue
                x, m, lo, hi = map(np.array, zip(*pts))
                ax.plot(x, m, style, marker="o", color=f"C{mi}", label=f"{model} ({kind})")
                ax.fill_between(x, lo, hi, color=f"C{mi}", alpha=0.12)
        ax.set_title(s)
        ax.set_xlabel("acquisition spacing (mm)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Dice")
    axes[-1].legend(fontsize=8)
    fig.suptitle("Dice vs resolution (home-field operator; iso: both axes; thick: superior-inferior only)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bar_chart(summary: dict, path: Path) -> None:
    agg = [r for r in summary["aggregates"] if (r["structure"], r["metric"]) in (("mean", "dice"), ("vertebral_body", "vb_dice"))
           and not r["variant"].startswith("sequence=")]
    tests = list(dict.fromkeys(r["test"] for r in agg))
    fig, axes = plt.subplots(1, len(tests), figsize=(4.5 * len(tests), 4), squeeze=False)
    models = summary["models"]
    width = 0.8 / len(models)
    for ax, test in zip(axes[0], tests):
        variants = list(dict.fromkeys(r["variant"] for r in agg if r["test"] == test))
        for mi, model in enumerate(models):
            rs = {r["variant"]: r for r in agg if r["test"] == test and r["model"] == model}
            m = np.array([rs[v]["mean"] if v in rs else np.nan for v in variants])
            err = np.array([[m[i] - rs[v]["ci_low"], rs[v]["ci_high"] - m[i]] if v in rs else [0, 0]
                            for i, v in enumerate(variants)]).T
            ax.bar(np.arange(len(variants)) + mi * width, m, width, yerr=err, capsize=2, label=model, color=f"C{mi}")
        ax.set_xticks(np.arange(len(variants)) + width * (len(models) - 1) / 2)
        ax.set_xticklabels(variants, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(test)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("mean Dice (vertebra, disc, canal); external: body Dice")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _score(row: dict) -> float:
    return row["vb_dice"] if row["structure"] == "vertebral_body" else row["dice"]


def _overlays(rows, cases, predictions, models, out: Path, n: int) -> None:
    """Per model and test family: the n best and n worst images by mean Dice (external: body Dice), each as
    image | truth | prediction on the whole slice."""
    per_image = defaultdict(list)
    for r in rows:
        if not np.isnan(_score(r)):
            per_image[(r["model"], r["test"], r["variant"], r["image"])].append(_score(r))
    by_case = {(c.test, c.variant): c for c in cases}
    for model in models:
        for test in dict.fromkeys(c.test for c in cases):
            scored = sorted((float(np.mean(v)), k[2], k[3]) for k, v in per_image.items() if k[0] == model and k[1] == test)
            if not scored:
                continue
            picks = [("worst", s) for s in scored[:n]] + [("best", s) for s in scored[::-1][:n]]
            fig, axes = plt.subplots(len(picks), 3, figsize=(6.6, 2.9 * len(picks)))
            for row, (tag, (score, variant, image)) in zip(np.atleast_2d(axes), picks):
                case = by_case[(test, variant)]
                i = [r.name for r in case.records].index(image)
                img = torch.from_numpy(case.image(i))
                img = (img / img.flatten().quantile(0.995).clamp_min(1e-6)).clamp(0, 1)
                truth = torch.from_numpy(case.records[i].structures.astype(np.int64))
                pred = torch.from_numpy(predictions[(model, test, variant)][i].astype(np.int64))
                panels = (img.expand(3, *img.shape), label_overlay(img, truth), label_overlay(img, pred))
                for ax, panel, title in zip(row, panels, ("image", "truth", f"{model}: {score:.2f}")):
                    ax.imshow(panel.permute(1, 2, 0).numpy())
                    ax.set_title(title if title != "image" else f"{tag}: {variant}\n{image}", fontsize=8)
                    ax.axis("off")
            fig.tight_layout()
            fig.savefig(out / f"overlays_{model}_{test}.png", dpi=90)
            plt.close(fig)


def write_figures(summary, rows, cases, predictions, out: Path, n_overlays: int) -> None:
    """The figures of the slice families (an evaluation of volumes alone has none of these)."""
    if not cases:
        return
    _resolution_curve(summary, out / "dice_vs_resolution.png")
    _bar_chart(summary, out / "dice_per_test.png")
    if n_overlays > 0:
        _overlays(rows, cases, predictions, summary["models"], out, n_overlays)


def front_plot(summary: list[dict], path: Path, title: str, labelled: Callable[[dict], bool] | None = None) -> None:
    """Each variant on the two validation axes (``axes.summarise_axes`` rows): mean with its 95 % CI on both axes,
    the front (the variants no other plotted one beats on both axes) joined by a line; labels beside the points for which ``labelled`` is true
    (all by default), the others drawn paler."""
    fig, ax = plt.subplots(figsize=(8, 6.5))
    front_names = pareto_front({r["variant"]: (r["in_domain"], r["shift"]) for r in summary})
    on_front = [r["variant"] in front_names for r in summary]
    for i, r in enumerate(summary):
        x, y = r["in_domain"], r["shift"]
        xerr = [[x - r["in_domain_ci_low"]], [r["in_domain_ci_high"] - x]]
        yerr = [[y - r["shift_ci_low"]], [r["shift_ci_high"] - y]]
        colour = "C3" if on_front[i] else "0.45"
        named = labelled is None or labelled(r)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color=colour, ecolor=colour, alpha=0.8 if named else 0.25,
                    capsize=2, ms=5 if named else 3)
        if named:
            ax.annotate(f"{r['variant']} ({r['n_seeds']})", (x, y), textcoords="offset points", xytext=(5, 4),
                        fontsize=7)
    front = sorted((r["in_domain"], r["shift"]) for r, f in zip(summary, on_front) if f)
    if len(front) > 1:
        ax.plot(*zip(*front), "-", color="C3", alpha=0.5, lw=1, label="front (non-dominated)")
        ax.legend(loc="lower left", fontsize=8)
    ax.set_xlabel("in-domain: mean Dice, T2 SPACE validation patients")
    ax.set_ylabel("shift: mean of Dixon vb_dice and T2 TSE mean Dice (shift-validation)")
    has_ci = any(r["in_domain_ci_high"] > r["in_domain_ci_low"] for r in summary)
    note = "95 % CIs over patients and seeds; (n) = seeds" if has_ci else "one run per point, no CI"
    ax.set_title(f"{title}\n({note})", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def headline_plot(rows: list[dict], catalog: dict, path: Path, title: str) -> None:
    """A forest plot of headline.csv rows: per real test family of the catalogue (top to bottom), each model's
    mean with its 95 % CI (patients and seeds); names and colours from the catalogue. A volume family's false-spine
    rows (mL, share of slices) are not on this Dice axis."""
    rows = [r for r in rows if r["metric"] not in VOLUME_EXTRA]
    known, styles = families.families(catalog), families.models(catalog)
    tests = [t for t in known if any(r["test"] == t for r in rows)]
    models = [m for m in styles if any(r["model"] == m for r in rows)]
    metric = {r["test"]: r["metric"] for r in rows}
    fig, ax = plt.subplots(figsize=(7.5, 0.8 * len(tests) + 1.6))
    for ti, test in enumerate(tests):
        for mi, model in enumerate(models):
            r = next((r for r in rows if r["test"] == test and r["model"] == model), None)
            if r is None:
                continue
            y = ti + (mi - (len(models) - 1) / 2) * 0.16
            m, lo, hi = float(r["mean"]), float(r["ci_low"]), float(r["ci_high"])
            label, colour = styles[model]["short"], styles[model]["colour"]
            ax.errorbar(m, y, xerr=[[m - lo], [hi - m]], fmt="o", color=colour, ms=4, capsize=2,
                        label=label if ti == 0 else None)
    ax.set_yticks(range(len(tests)), [f"{known[t].display}\n({metric[t]})" for t in tests], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mean Dice over patients (vb_dice where only bodies are labelled), 95 % CI")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=len(models), frameon=False)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
