"""Reading and preprocessing the training source on 1 and on 2 threads, and its patient ids from file names against
from decoded slices: the main job's first stage, side by side, with a check that the outputs are identical.

  python benchmarks/data_speed.py [--overrides data=synth]

The source and preprocessing of the composed config (default: data=synth, the shipped Model A's, tissue classes
included); nothing is cached (the files are read once first, so that both thread counts read them from the page
cache). Writes results/benchmarks/data_speed.json.
"""

from __future__ import annotations

import argparse
import time

import torch

from _common import write
from spine_synthseg.config import compose_config, to_dict
from spine_synthseg.data.preprocess import PreprocessConfig, preprocess_records
from spine_synthseg.data.sources import SourceConfig, patient_ids, read_records

FIELDS = ("image", "structures", "instances", "bg_distance", "clusters", "tissue", "shapes", "annotated")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, round(time.perf_counter() - start, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--overrides", nargs="*", default=["data=synth"])
    args = parser.parse_args()
    cfg = compose_config(args.overrides, output_dir="/tmp/data_speed")
    source, prep = SourceConfig.from_dict(to_dict(cfg.source)), PreprocessConfig.from_dict(to_dict(cfg.preprocess))
    out = {"overrides": args.overrides, "source": source.root.rsplit("/", 1)[-1], "n_tissue": prep.n_tissue, "threads": {}}
    results = {}
    read_records(source)  # warm the page cache: both thread counts then read from memory
    for threads in (1, 2):
        torch.set_num_threads(threads)
        records, read_s = timed(lambda: read_records(source)[0])
        slices, prep_s = timed(lambda: preprocess_records(records, prep))
        results[threads] = slices
        out["threads"][str(threads)] = {"read_seconds": read_s, "preprocess_seconds": prep_s, "slices": len(records)}
        print(threads, out["threads"][str(threads)], flush=True)
    out["identical"] = all(torch.equal(getattr(results[1], f), getattr(results[2], f)) for f in FIELDS)
    names, names_s = timed(lambda: patient_ids(source))
    decoded, decoded_s = timed(lambda: [r.patient_id for r in read_records(source)[0]])
    out["patient_ids"] = {"from_file_names_seconds": names_s, "from_decoded_slices_seconds": decoded_s,
                          "identical": names == decoded}
    write("data_speed", out)


if __name__ == "__main__":
    main()
