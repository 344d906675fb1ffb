"""Why the real-image models lose on external T2-like slices with the sliding window: one figure per set of slices,
each row a (model, slice), columns image | truth | one prediction per inference mode with its score.

  python scripts/window_failure_figure.py OUT.png --family external --series VB2_13 VB2_16 \
      --modes sliding_window full_pass -- model_b=models/model_b.ckpt model_b_aug=models/model_b_aug.ckpt
  python scripts/window_failure_figure.py OUT.png --family shift_validation --series 1011 VB3_04 \
      --modes sliding_window full_pass large_window -- model_a=... model_b_aug=...

  python scripts/window_failure_figure.py OUT.png --family external --pick results/archive/final/default/per_patient.csv \
      t2_like model_a model_b_aug --modes sliding_window -- model_a=... model_b_aug=...

--pick CSV VARIANT X Y chooses the slices by a rule instead of --series: of the patients of VARIANT in that
per-patient file (seed 0, vb_dice where only bodies are labelled, else mean Dice), those with the lowest, the
median and the highest X - Y difference; the middle slice of each one's first series.
--family names the evaluation family the slices come from (evaluation/cases.py); the middle slice of each named
series is drawn. A test family is for looking at configurations already scored on it (the shipped models with the
modes they were scored with): the figure scores nothing new, and the report says which family it shows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from spine_synthseg.config import compose_config  # noqa: E402
from spine_synthseg.errors import DataError  # noqa: E402
from spine_synthseg.evaluation.cases import build_cases  # noqa: E402
from spine_synthseg.evaluation.evaluate import image_rows  # noqa: E402
from spine_synthseg.models.checkpoint import load_checkpoint  # noqa: E402
from spine_synthseg.models.inference import MODES, segment_slices  # noqa: E402
from spine_synthseg.visualisation import label_overlay  # noqa: E402


def score(rows: list[dict]) -> float:
    """vb_dice for body-only masks, else the mean Dice over the annotated structures."""
    values = [r["vb_dice"] if r["structure"] == "vertebral_body" else r["dice"] for r in rows]
    return float(np.nanmean(values))


def pick_patients(per_patient: Path, family: str, variant: str, x: str, y: str) -> list[str]:
    """The patients with the lowest, median and highest seed-0 score difference x - y (see the module doc)."""
    from spine_synthseg.evaluation.collect import read_csv

    score = {}
    for r in read_csv(per_patient):
        if (r["test"], r["variant"], str(r["seed"])) == (family, variant, "0") and r["model"] in (x, y) and \
                (r["structure"], r["metric"]) in (("vertebral_body", "vb_dice"), ("mean", "dice")):
            score.setdefault(r["patient"], {})[r["model"]] = float(r["value"])
    diffs = sorted((v[x] - v[y], p) for p, v in score.items() if x in v and y in v and np.isfinite(v[x] - v[y]))
    if not diffs:
        raise DataError(f"{per_patient} has no seed-0 rows of {family}/{variant} for both {x} and {y}.")
    return list(dict.fromkeys(p for _, p in (diffs[0], diffs[len(diffs) // 2], diffs[-1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("checkpoints", nargs="+", help="NAME=CHECKPOINT")
    parser.add_argument("--family", required=True)
    choice = parser.add_mutually_exclusive_group(required=True)
    choice.add_argument("--series", nargs="+")
    choice.add_argument("--pick", nargs=4, metavar=("CSV", "VARIANT", "X", "Y"))
    parser.add_argument("--modes", nargs="+", default=list(MODES[:2]), choices=MODES)
    args = parser.parse_args()
    try:
        named = dict(item.split("=", 1) for item in args.checkpoints)
    except ValueError:
        sys.exit(f"error: give checkpoints as NAME=PATH, not {args.checkpoints}")
    cfg = compose_config([f"evaluation.tests=[{args.family}]"])
    try:
        cases, _ = build_cases(cfg)
        if args.pick:
            patients = pick_patients(Path(args.pick[0]), args.family, *args.pick[1:])
            cases = [c for c in cases if c.variant == args.pick[1]]
            series = [next(r.series or r.patient_id for c in cases for r in c.records if r.patient_id == p)
                      for p in patients]
        else:
            series = args.series
        picks = []  # (case, index) of the middle slice of each series
        for name in series:
            found = [(c, i) for c in cases for i, r in enumerate(c.records) if (r.series or r.patient_id) == name]
            if not found:
                raise DataError(f"no slice of series {name!r} in family {args.family}; name a series it holds.")
            picks.append(found[len(found) // 2])
        models = {name: load_checkpoint(path).eval() for name, path in named.items()}
    except DataError as err:
        sys.exit(f"error: {err}")
    rows = [(name, case, i) for name in models for case, i in picks]
    fig, axes = plt.subplots(len(rows), 2 + len(args.modes), figsize=(2.4 * (2 + len(args.modes)), 2.6 * len(rows)))
    for ax_row, (name, case, i) in zip(np.atleast_2d(axes), rows):
        record = case.records[i]
        img = torch.from_numpy(case.image(i))
        img = (img / img.flatten().quantile(0.995).clamp_min(1e-6)).clamp(0, 1)
        panels = [(img.expand(3, *img.shape), f"{record.name}\n{case.test}/{case.variant}"),
                  (label_overlay(img, torch.from_numpy(record.structures.astype(np.int64))), "truth")]
        for mode in args.modes:
            pred = segment_slices(models[name], [case.image(i)], [record.spacing_mm], mode=mode)[0]
            value = score(image_rows(name, case, i, pred, surfaces=False))
            panels.append((label_overlay(img, torch.from_numpy(pred.astype(np.int64))), f"{name}, {mode}: {value:.2f}"))
        for ax, (panel, title) in zip(ax_row, panels):
            ax.imshow(panel.permute(1, 2, 0).numpy())
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
