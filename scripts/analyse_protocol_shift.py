"""T2 TSE Dice split by slice position: mid-sagittal slices (spinal canal labelled) vs lateral slices.

The T2 SPACE training slices are all mid-sagittal; the T2 TSE set also holds lateral slices where only a
part of one vertebra is labelled. This separates the protocol shift from the slice-position shift.
  python scripts/analyse_protocol_shift.py results/default
Writes results/default/protocol_shift_by_slice_position.csv (mean over images, then over series, per seed).
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def main(root: Path) -> None:
    out_rows = []
    for metrics in sorted(root.glob("seed*/metrics.csv")):
        rows = [r for r in csv.DictReader(open(metrics)) if r["test"] == "protocol_shift"]
        central = {r["image"] for r in rows if r["structure"] == "canal" and r["dice"] != "nan"}
        acc = defaultdict(lambda: defaultdict(list))  # (model, position, structure) -> patient -> values
        per_image = defaultdict(list)
        for r in rows:
            if r["dice"] == "nan":
                continue
            pos = "mid_sagittal" if r["image"] in central else "lateral"
            acc[(r["model"], pos, r["structure"])][r["patient"]].append(float(r["dice"]))
            per_image[(r["model"], pos, r["patient"], r["image"])].append(float(r["dice"]))
        for (model, pos, patient, _), values in per_image.items():
            acc[(model, pos, "mean")][patient].append(float(np.mean(values)))
        for (model, pos, structure), patients in sorted(acc.items()):
            means = [np.mean(v) for v in patients.values()]
            n_images = sum(len(v) for v in patients.values())
            out_rows.append({"seed": metrics.parent.name, "model": model, "slice_position": pos, "structure": structure,
                             "dice_mean": round(float(np.mean(means)), 4), "n_series": len(means), "n_images": n_images})
    with open(root / "protocol_shift_by_slice_position.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(out_rows[0]))
        writer.writeheader()
        writer.writerows(out_rows)
    for r in out_rows:
        if r["structure"] == "mean":
            print(r)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
