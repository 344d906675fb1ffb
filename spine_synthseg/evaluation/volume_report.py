"""What the whole-volume evaluation shows a reader (``volume_slices.csv`` of ``volume_evaluation``): the quality
flag against the slices holding false spine, false spine against the distance from the central slice, and the
slices beside the spine of one volume per model, and a volume rule's slices before and after."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from spine_synthseg.evaluation.volume_metrics import SLICE_MM3, labelled_range  # noqa: E402
from spine_synthseg.models.volume_rule import VolumeRule, apply_rule  # noqa: E402
from spine_synthseg.visualisation import label_overlay  # noqa: E402


def _true(v) -> bool:
    return str(v) in ("True", "true", "1")


def qc_flag_table(slices: Sequence[Mapping], thresholds: Mapping[str, float], score: str = "qc_modes") -> list[dict]:
    """Per model: on the lateral slices (where false spine is defined), how many hold more than SLICE_MM3 of it
    (positives), how many the flag (score < the model's threshold) marks, its recall and precision there; the share
    of the other slices (the labelled range and its 4 mm margin) it flags; and its precision over every slice it
    flags (the share of them that are lateral slices with false spine)."""
    out = []
    for model in dict.fromkeys(r["model"] for r in slices):
        mine = [r for r in slices if r["model"] == model and r.get(score, "") not in ("", None)]
        if not mine:
            continue
        t = float(thresholds[model])
        lateral = [r for r in mine if _true(r["lateral"])]
        other = [r for r in mine if not _true(r["lateral"])]
        positive = np.array([float(r["false_spine_mm3"]) > SLICE_MM3 for r in lateral])
        flagged = np.array([float(r[score]) < t for r in lateral])  # NaN (both empty) is never flagged
        hits = int((positive & flagged).sum())
        flagged_other = sum(float(r[score]) < t for r in other)
        out.append({"model": model, "threshold": t, "n_volumes": len({r["patient"] for r in mine}),
                    "lateral_slices": len(lateral), "false_spine_slices": int(positive.sum()),
                    "flagged_lateral": int(flagged.sum()),
                    "recall": hits / positive.sum() if positive.any() else float("nan"),
                    "precision": hits / flagged.sum() if flagged.any() else float("nan"),
                    "flagged_other_share": flagged_other / len(other) if other else float("nan"),
                    "precision_all_slices": hits / (flagged.sum() + flagged_other) if flagged.any() or flagged_other
                    else float("nan")})
    return out


def profile(slices: Sequence[Mapping], key: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{model: (distance mm, mean over volumes of `key` per slice)} of the slices at each whole-mm distance from
    their volume's central slice."""
    acc: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in slices:
        acc[r["model"]][round(float(r["distance_mm"]))].append(float(r[key]))
    return {m: (np.array(sorted(d)), np.array([np.mean(d[k]) for k in sorted(d)])) for m, d in acc.items()}


def false_spine_profile_plot(slices: Sequence[Mapping], names: Mapping[str, tuple[str, str]], path: Path,
                             title: str) -> None:
    """Two panels against the distance from the central slice (mm): left, false spine per lateral slice (mm^3,
    the rule of ``volume_metrics``); right, everything predicted as spine (vertebra, disc, canal) per slice, every
    slice. names: {model: (label, colour)}."""
    lateral = [r for r in slices if _true(r["lateral"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for model, (x, y) in profile(lateral, "false_spine_mm3").items():
        label, colour = names.get(model, (model, None))
        for k, side in enumerate((x < 0, x > 0)):  # the two sides of the spine, not joined across it
            axes[0].plot(x[side], y[side] / 1000, "o-", ms=3, color=colour, label=label if k == 0 else None)
    for model, (x, y) in profile(slices, "predicted_spine_mm3").items():
        label, colour = names.get(model, (model, None))
        axes[1].plot(x, y / 1000, "-", color=colour, label=label)
    axes[0].set_ylabel("false spine per lateral slice (mL)")
    axes[1].set_ylabel("predicted vertebra + disc + canal per slice (mL)")
    axes[0].set_title("lateral slices only (> 4 mm beside the labelled bodies); mean over the volumes that have one "
                      "at that distance", fontsize=8)
    axes[1].set_title("every slice", fontsize=8)
    for ax in axes:
        ax.set_xlabel("distance from the central slice (mm)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def slices_figure(rows: Sequence[tuple[str, np.ndarray]], image: np.ndarray, bodies: np.ndarray,
                  central: int, slice_mm: float, lateral: Sequence[int], path: Path, title: str,
                  offsets_mm: Sequence[float] = (-30, -20, -10, 0, 10, 20, 30)) -> None:
    """One row per model (label, (S, H, W) labels), one column per offset from the central slice and one for the
    outermost slice of each side: the image with the prediction overlaid and the labelled bodies outlined (white);
    a column title says "lateral" where false spine is scored (`lateral`: those slice indices)."""
    inner = [int(np.clip(central + round(off / slice_mm), 0, image.shape[0] - 1)) for off in offsets_mm]
    columns = list(dict.fromkeys([0, *inner, image.shape[0] - 1]))
    lo, hi = np.percentile(image, [0.5, 99.5])
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(1.9 * len(columns), 2.2 * len(rows)), squeeze=False)
    for i, (label, labels) in enumerate(rows):
        for j, s in enumerate(columns):
            ax = axes[i][j]
            grey = torch.from_numpy(np.clip((image[s] - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32))
            ax.imshow(label_overlay(grey, torch.from_numpy(labels[s].astype(np.int64))).permute(1, 2, 0).numpy(),
                      interpolation="nearest")
            if bodies[s].any():
                ax.contour(bodies[s] > 0, levels=[0.5], colors="white", linewidths=0.6)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"{(s - central) * slice_mm:+g} mm" + (" lateral" if s in set(lateral) else ""), fontsize=8)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _overlay(ax, image: np.ndarray, labels: np.ndarray, bodies: np.ndarray, lo: float, hi: float) -> None:
    grey = torch.from_numpy(np.clip((image - lo) / max(hi - lo, 1e-6), 0, 1).astype(np.float32))
    ax.imshow(label_overlay(grey, torch.from_numpy(labels.astype(np.int64))).permute(1, 2, 0).numpy(),
              interpolation="nearest")
    if bodies.any():
        ax.contour(bodies > 0, levels=[0.5], colors="white", linewidths=0.6)
    ax.set_xticks([])
    ax.set_yticks([])


def rule_figure(kept: Mapping[str, Mapping[str, tuple]], rule: VolumeRule, path: Path,
                names: Mapping[str, Mapping]) -> None:
    """One row per model (kept: {model: {subject: (slices, labels, bodies, scores, spacing)}}, ``rule_screen``):
    on the subject where the first model's rule removes the most outside the labelled range, its most-cut lateral
    slice and the labelled slice where the rule removes the most, each before and after (bodies outlined white)."""
    first = next(iter(kept))
    gains = {}
    for subject, (_, labels, bodies, scores, spacing) in kept[first].items():
        a, b, _ = labelled_range(bodies == 1)
        _, removed = apply_rule(labels, spacing, rule, scores)
        total = sum(removed.values())
        gains[subject] = total.sum() - total[a:b + 1].sum()
    subject = max(gains, key=gains.get)
    fig, axes = plt.subplots(len(kept), 4, figsize=(8.4, 2.6 * len(kept)), squeeze=False)
    for i, (model, volumes) in enumerate(kept.items()):
        slices, labels, bodies, scores, spacing = volumes[subject]
        after, removed = apply_rule(labels, spacing, rule, scores)
        total = sum(removed.values())
        a, b, central = labelled_range(bodies == 1)
        outside = np.where((np.arange(len(total)) < a) | (np.arange(len(total)) > b), total, -1)
        inside = np.where(outside < 0, total, -1)
        lo, hi = np.percentile(slices, [0.5, 99.5])
        for j, (s, kind) in enumerate(((int(np.argmax(outside)), "lateral"), (int(np.argmax(inside)), "labelled"))):
            for k, (shown, when) in enumerate(((labels, "before"), (after, "after"))):
                ax = axes[i][2 * j + k]
                _overlay(ax, slices[s], shown[s], bodies[s], lo, hi)
                ax.set_title(f"{kind} {(s - central) * spacing[0]:+g} mm, {when}\n"
                             f"removed {total[s] / 1000:.1f} mL" if k else f"{kind} {(s - central) * spacing[0]:+g} mm, "
                             f"{when}", fontsize=7)
            if j == 0:
                axes[i][0].set_ylabel(names.get(model, {}).get("display", model), fontsize=7)
    fig.suptitle(f"volume rule {rule.name} on {subject} (shift-validation): before and after", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
