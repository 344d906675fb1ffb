"""Inference in concurrent single-threaded streams (``models/streams.py``) against one stream on all torch threads,
side by side on the main job's evaluation: results/benchmarks/inference_streams.json.

  python benchmarks/inference_streams.py [--volumes 6] [--rounds 1] [--out inference_streams]

The shipped Model A on the cases `python run.py data=synth` evaluates (its own split; every real test family, the
home-field contrast and resolution copies, and the first --volumes Dixon test volumes), at evaluation's precision
(inference_precision=auto) and inference mode. Each case is segmented both ways, the order alternating from case to
case and round to round (this machine's speed drifts); the seconds of each, whether the class maps are the
same, bit for bit, and the pixels whose label differs (one torch thread and two may round differently). Images are built before timing, so only segmentation is timed; the home-field copies
(contrast and resolution) are timed apart: built by ``thread_map`` on its workers of one torch thread each, and by
the thread pool it replaced (fresh threads on the torch thread count each), the same alternation, compared too.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm import tqdm

from _common import main_job_cases, write
from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.parallel import thread_map
from spine_synthseg.data.spider_mha import read_volume
from spine_synthseg.evaluation.cases import VolumeCase
from spine_synthseg.models.inference import precision, resolve_precision, segment_slices, segment_stack
from spine_synthseg.models.streams import one_stream

WAYS = ("one_stream", "streams")


def timed(fn, way: str):
    with one_stream() if way == "one_stream" else contextlib.nullcontext():
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start


def pool_map(fn, items) -> list:
    """thread_map before this change: a fresh pool of torch.get_num_threads() threads, each on the default count."""
    items = list(items)
    with ThreadPoolExecutor(min(torch.get_num_threads(), len(items))) as pool:
        return list(pool.map(fn, items))


def home_field_rows(cases, rounds: int) -> list[dict]:
    rows = []
    for r in range(rounds):
        for k, case in enumerate(c for c in cases if not isinstance(c, VolumeCase) and c.transform is not None):
            out = {}
            for way in (("pool", "thread_map") if (k + r) % 2 == 0 else ("thread_map", "pool")):
                build = pool_map if way == "pool" else thread_map
                start = time.perf_counter()
                with torch.autocast("cpu", enabled=False):  # as evaluation builds them
                    images = build(case.image, range(len(case.records)))
                out[way] = images, time.perf_counter() - start
            rows.append({"round": r + 1, "test": case.test, "variant": case.variant, "slices": len(case.records),
                         **{f"seconds_{w}": round(out[w][1], 3) for w in ("pool", "thread_map")},
                         "identical": all(np.array_equal(a, b) for a, b in zip(out["pool"][0], out["thread_map"][0]))})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--volumes", type=int, default=6, help="Dixon test volumes to segment (of 24)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--out", default="inference_streams")
    args = parser.parse_args()
    cfg, model, cases = main_job_cases("/tmp/inference_streams")
    mode = str(cfg.inference_mode)
    home = home_field_rows(cases, args.rounds)
    jobs = []  # (test, variant, slices, segment())
    for case in cases:
        if isinstance(case, VolumeCase):
            for v in case.volumes[:args.volumes]:
                image = read_volume(v.image)
                layout = SagittalLayout.of(image, str(v.image))
                slices = layout.to_slices(image)
                jobs.append((case.test, f"{case.variant}/{v.subject}", len(slices),
                             lambda s=slices, sp=layout.spacing_rc_mm: list(segment_stack(model, s, sp, mode))))
            continue
        images = thread_map(case.image, range(len(case.records)))
        spacings = [r.spacing_mm for r in case.records]
        jobs.append((case.test, case.variant, len(images),
                     lambda im=images, sp=spacings: segment_slices(model, im, sp, mode=mode)))
    rows, k = [], 0
    with precision(model, str(cfg.inference_precision)):
        for r in range(args.rounds):
            for test, variant, n, segment in tqdm(jobs, desc=f"round {r + 1}"):
                order = WAYS if k % 2 == 0 else WAYS[::-1]
                k += 1
                out = {way: timed(segment, way) for way in order}
                rows.append({"round": r + 1, "test": test, "variant": variant, "slices": n, "first": order[0],
                             **{f"seconds_{w}": round(out[w][1], 3) for w in WAYS},
                             "identical": all(np.array_equal(a, b) for a, b in zip(out[WAYS[0]][0], out[WAYS[1]][0])),
                             "pixels": sum(int(a.size) for a in out[WAYS[0]][0]),
                             "pixels_differing": sum(int((a != b).sum()) for a, b in zip(out[WAYS[0]][0], out[WAYS[1]][0]))})
    total = {w: round(sum(row[f"seconds_{w}"] for row in rows), 2) for w in WAYS}
    home_total = {w: round(sum(row[f"seconds_{w}"] for row in home), 2) for w in ("pool", "thread_map")}
    write(args.out, {
        "model": "models/model_a.ckpt", "inference_mode": mode, "threads": torch.get_num_threads(),
        "precision": resolve_precision(str(cfg.inference_precision), torch.device("cpu")),
        "volumes_per_case": args.volumes, "rounds": args.rounds,
        "total_seconds": total, "speedup": round(total["one_stream"] / total["streams"], 3),
        "all_identical": all(row["identical"] for row in rows),
        "share_of_pixels_differing": sum(row["pixels_differing"] for row in rows) / sum(row["pixels"] for row in rows),
        "cases": rows,
        "home_field_build": {"total_seconds": home_total, "all_identical": all(row["identical"] for row in home),
                             "cases": home}})


if __name__ == "__main__":
    main()
