"""Scoring the evaluation's slices threaded (``data.parallel.thread_map`` over images) against the loop, side by side:
results/benchmarks/scoring_speed.json.

  python benchmarks/scoring_speed.py [--rounds 3] [--out scoring_speed]

The shipped Model A segments the cases of `python run.py data=synth` whose scoring takes longest (the tests with
surface distances, evaluation.surface_distance_tests, and the Dixon slices) once; then ``evaluate.image_rows``
(Dice per structure, HD95 and ASSD in mm, or the vertebral-body metrics) scores every image in a loop and on the
torch threads, the order alternating by round: seconds and whether the rows are the same.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _common import main_job_cases, write
from spine_synthseg.data.parallel import thread_map
from spine_synthseg.evaluation.cases import VolumeCase
from spine_synthseg.evaluation.evaluate import image_rows
from spine_synthseg.models.inference import precision, segment_slices

WAYS = ("loop", "threads")


def same(a: list[dict], b: list[dict]) -> bool:
    """Rows equal, NaN equal to NaN."""
    return len(a) == len(b) and all(x.keys() == y.keys() and all(
        x[k] == y[k] or (isinstance(x[k], float) and np.isnan(x[k]) and np.isnan(y[k])) for k in x) for x, y in zip(a, b))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="scoring_speed")
    args = parser.parse_args()
    cfg, model, cases = main_job_cases("/tmp/scoring_speed")
    surfaced = list(cfg.evaluation.surface_distance_tests)
    cases = [c for c in cases if not isinstance(c, VolumeCase) and c.transform is None
             and (c.test in surfaced or c.test == "external_dixon")]
    jobs = []
    with precision(model, str(cfg.inference_precision)):
        for case in cases:
            images = [case.image(i) for i in range(len(case.records))]
            preds = segment_slices(model, images, [r.spacing_mm for r in case.records], mode=str(cfg.inference_mode))
            jobs.append((case, preds, case.test in surfaced))
    rows = []
    for r in range(args.rounds):
        for case, preds, surfaces in jobs:
            score = lambda i: image_rows("model_a", case, i, preds[i], surfaces)  # noqa: E731
            found = {}
            for way in (WAYS if r % 2 == 0 else WAYS[::-1]):
                start = time.perf_counter()
                out = [score(i) for i in range(len(preds))] if way == "loop" else thread_map(score, range(len(preds)))
                found[way] = out, time.perf_counter() - start
            rows.append({"round": r + 1, "test": case.test, "variant": case.variant, "images": len(preds),
                         "surface_distances": surfaces, **{f"seconds_{w}": round(found[w][1], 3) for w in WAYS},
                         "identical": all(same(a, b) for a, b in zip(found["loop"][0], found["threads"][0]))})
            print(rows[-1], flush=True)
    total = {w: round(sum(row[f"seconds_{w}"] for row in rows), 2) for w in WAYS}
    write(args.out, {"model": "models/model_a.ckpt", "threads": torch.get_num_threads(), "rounds": args.rounds,
                     "total_seconds": total, "speedup": round(total["loop"] / total["threads"], 3),
                     "all_identical": all(row["identical"] for row in rows), "cases": rows})


if __name__ == "__main__":
    main()
