"""Aggregate evaluation rows per patient with bootstrap CIs, paired model differences, tables and figures."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from spine_synthseg.evaluation.metrics import bootstrap_ci  # noqa: E402
from spine_synthseg.evaluation.test_sets import TESTS  # noqa: E402
from spine_synthseg.visualisation import label_overlay  # noqa: E402

STRUCTURES = ("vertebra", "disc", "canal", "mean")


def _patient_means(rows: list[dict], key: str) -> dict[tuple, dict[str, float]]:
    """{(model, test, variant, structure): {patient: mean over that patient's images}}, with 'mean' = per-image
    mean over the structures scored in that image."""
    per_image = defaultdict(list)
    for r in rows:
        if not np.isnan(r[key]):
            per_image[(r["model"], r["test"], r["variant"], r["patient"], r["image"])].append(r[key])
            per_image_struct = (r["model"], r["test"], r["variant"], r["structure"], r["patient"])
            per_image[("S",) + per_image_struct].append(r[key])
    groups = defaultdict(lambda: defaultdict(list))
    for k, values in per_image.items():
        if k[0] == "S":
            _, model, test, variant, structure, patient = k
            groups[(model, test, variant, structure)][patient].extend(values)
        else:
            model, test, variant, patient, _ = k
            groups[(model, test, variant, "mean")][patient].append(float(np.mean(values)))
    return {k: {p: float(np.mean(v)) for p, v in d.items()} for k, d in groups.items()}


def summarise(rows: list[dict], models: list[str], n_boot: int, confidence: float, seed: int) -> dict:
    """Per (model, test, variant, structure): patient-level mean Dice with bootstrap CI, HD95 and ASSD;
    and, for the first two models, the paired per-patient difference (first - second) with its CI."""
    dice, hd, assd = (_patient_means(rows, k) for k in ("dice", "hd95_mm", "assd_mm"))
    aggregates = []
    order = {t: i for i, t in enumerate(TESTS)}
    for key in sorted(dice, key=lambda k: (models.index(k[0]), order[k[1]], k[2], STRUCTURES.index(k[3]))):
        values = np.array(list(dice[key].values()))
        m, lo, hi = bootstrap_ci(values, n_boot, confidence, seed)
        aggregates.append({
            "model": key[0], "test": key[1], "variant": key[2], "structure": key[3], "dice_mean": m,
            "ci_low": lo, "ci_high": hi, "n_patients": int(len(values)),
            "hd95_mm": float(np.mean(list(hd[key].values()))) if key in hd else float("nan"),
            "assd_mm": float(np.mean(list(assd[key].values()))) if key in assd else float("nan"),
        })
    paired = []
    if len(models) >= 2:
        a, b = models[0], models[1]
        for key in dice:
            if key[0] != a or (b,) + key[1:] not in dice:
                continue
            da, db = dice[key], dice[(b,) + key[1:]]
            common = sorted(set(da) & set(db))
            diffs = np.array([da[p] - db[p] for p in common])
            m, lo, hi = bootstrap_ci(diffs, n_boot, confidence, seed)
            paired.append({"model_a": a, "model_b": b, "test": key[1], "variant": key[2], "structure": key[3],
                           "diff_mean": m, "ci_low": lo, "ci_high": hi, "n_patients": len(common)})
        paired.sort(key=lambda r: (order[r["test"]], r["variant"], STRUCTURES.index(r["structure"])))
    return {"models": models, "confidence": confidence, "bootstrap_samples": n_boot, "aggregates": aggregates,
            "paired_differences": paired}


def _fmt(m: float, lo: float, hi: float) -> str:
    return "n/a" if np.isnan(m) else f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def write_summary_md(summary: dict, path: Path) -> None:
    """Markdown tables: one per test family, Dice mean [CI] per model, and the paired difference."""
    models = summary["models"]
    agg = {(r["model"], r["test"], r["variant"], r["structure"]): r for r in summary["aggregates"]}
    diff = {(r["test"], r["variant"], r["structure"]): r for r in summary["paired_differences"]}
    pct = int(round(summary["confidence"] * 100))
    paired = f" Difference: {models[0]} - {models[1]}, paired per patient." if len(models) > 1 else ""
    lines = [f"# Evaluation summary\n\nDice: mean over patients [{pct}% bootstrap CI over patients]. "
             f"HD95 in mm (mean over patients).{paired} Patients of protocol_shift are the exporter's series ids.\n"]
    for test in dict.fromkeys(r["test"] for r in summary["aggregates"]):
        lines.append(f"\n## {test}\n")
        header = "| variant | structure | " + " | ".join(f"{m} Dice" for m in models)
        header += " | " + " | ".join(f"{m} HD95" for m in models)
        header += " | difference |" if len(models) > 1 else " |"
        lines += [header, "|" + "---|" * (header.count("|") - 1)]
        variants = dict.fromkeys(r["variant"] for r in summary["aggregates"] if r["test"] == test)
        for variant in variants:
            for s in STRUCTURES:
                cells = [agg.get((m, test, variant, s)) for m in models]
                if all(c is None for c in cells):
                    continue
                row = f"| {variant} | {s} | " + " | ".join(
                    _fmt(c["dice_mean"], c["ci_low"], c["ci_high"]) if c else "n/a" for c in cells)
                row += " | " + " | ".join(f"{c['hd95_mm']:.1f}" if c and not np.isnan(c["hd95_mm"]) else "n/a" for c in cells)
                if len(models) > 1:
                    d = diff.get((test, variant, s))
                    row += " | " + (_fmt(d["diff_mean"], d["ci_low"], d["ci_high"]) if d else "n/a")
                lines.append(row + " |")
    path.write_text("\n".join(lines) + "\n")


def _resolution_curve(summary: dict, path: Path) -> None:
    agg = [r for r in summary["aggregates"] if r["test"] == "resolution"]
    if not agg:
        return
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), sharey=True)
    native = min(float(r["variant"].split("_")[1][:-2]) for r in agg)
    for ax, s in zip(axes, STRUCTURES):
        for mi, model in enumerate(summary["models"]):
            for kind, style in (("iso", "-"), ("thick", "--")):
                pts = sorted(
                    (float(r["variant"].split("_")[1][:-2]), r["dice_mean"], r["ci_low"], r["ci_high"])
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
    fig.suptitle("Dice vs resolution (iso: both axes; thick: superior-inferior only)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _bar_chart(summary: dict, path: Path) -> None:
    agg = [r for r in summary["aggregates"] if r["structure"] == "mean"]
    tests = list(dict.fromkeys(r["test"] for r in agg))
    fig, axes = plt.subplots(1, len(tests), figsize=(4.5 * len(tests), 4), squeeze=False)
    models = summary["models"]
    width = 0.8 / len(models)
    for ax, test in zip(axes[0], tests):
        variants = list(dict.fromkeys(r["variant"] for r in agg if r["test"] == test))
        for mi, model in enumerate(models):
            rs = {r["variant"]: r for r in agg if r["test"] == test and r["model"] == model}
            m = np.array([rs[v]["dice_mean"] if v in rs else np.nan for v in variants])
            err = np.array([[m[i] - rs[v]["ci_low"], rs[v]["ci_high"] - m[i]] if v in rs else [0, 0]
                            for i, v in enumerate(variants)]).T
            ax.bar(np.arange(len(variants)) + mi * width, m, width, yerr=err, capsize=2, label=model, color=f"C{mi}")
        ax.set_xticks(np.arange(len(variants)) + width * (len(models) - 1) / 2)
        ax.set_xticklabels(variants, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(test)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("mean Dice (vertebra, disc, canal)")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _overlays(rows, cases, predictions, models, out: Path, n: int) -> None:
    """Per model and test family: the n best and n worst images by mean Dice (image | truth | prediction)."""
    per_image = defaultdict(list)
    for r in rows:
        if not np.isnan(r["dice"]):
            per_image[(r["model"], r["test"], r["variant"], r["image"])].append(r["dice"])
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
                i = case.slices.names.index(image)
                img = case.image[i, 0]
                pred = torch.from_numpy(predictions[(model, test, variant)][i])
                panels = (img.expand(3, *img.shape), label_overlay(img, case.slices.structures[i]), label_overlay(img, pred))
                for ax, panel, title in zip(row, panels, ("image", "truth", f"{model}: Dice {score:.2f}")):
                    ax.imshow(panel.permute(1, 2, 0).numpy())
                    ax.set_title(title if title != "image" else f"{tag}: {variant}\n{image}", fontsize=8)
                    ax.axis("off")
            fig.tight_layout()
            fig.savefig(out / f"overlays_{model}_{test}.png", dpi=90)
            plt.close(fig)


def write_figures(summary, rows, cases, predictions, out: Path, n_overlays: int) -> None:
    _resolution_curve(summary, out / "dice_vs_resolution.png")
    _bar_chart(summary, out / "dice_per_test.png")
    if n_overlays > 0:
        _overlays(rows, cases, predictions, summary["models"], out, n_overlays)
