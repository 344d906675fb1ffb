"""Model A's training input path, batch by batch, with each exact lever of the main job on and off, side by side.

  python benchmarks/data_path_speed.py [--batches 120] [--rounds 3]

The path is the project's own: SynthDataModule's train_dataloader (data=synth, the shipped Model A's config) and
on_after_batch_transfer (crop, synthesis, negatives), 2 threads. Variants (each the current code with one lever
put back as it was before, or all of them):
  current           the code as it is
  torch_quantile    the generator's output percentiles by torch.quantile (a full sort) instead of tensors.quantile
  gathered_crops    RandomCrop.apply by one advanced-indexing gather instead of one view per image
  int64_items       label maps made int64 per item by the dataset (collated and cropped as int64)
  all_plain         the three together (the path before these levers)
Each round times every variant once, in turn, over the same number of batches (warm-up first); the median of the
rounds is reported, and every variant's batches are checked to be identical to the current code's.
Writes results/benchmarks/data_path_speed.json.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from types import SimpleNamespace

import torch
from hydra.utils import instantiate

from _common import gathered_crop, write
from spine_synthseg.config import compose_config
from spine_synthseg.data import datasets
from spine_synthseg.synthesis import generator as generator_module
from spine_synthseg.training import datamodules
from spine_synthseg.training.crops import RandomCrop

VARIANTS = ("current", "torch_quantile", "gathered_crops", "int64_items", "all_plain")


class Int64Items(datasets.LabelMapDataset):
    """LabelMapDataset before: every map made int64 per item."""

    def __getitem__(self, i: int) -> dict:
        return {k: v.long() for k, v in super().__getitem__(i).items()}


@contextlib.contextmanager
def plain(variant: str):
    """The current code with the variant's levers put back as they were."""
    saved = (generator_module.quantile, RandomCrop.apply, datamodules.LabelMapDataset)
    if variant in ("torch_quantile", "all_plain"):
        generator_module.quantile = lambda x, q, dim=-1: torch.quantile(x, q, dim=dim)
    if variant in ("gathered_crops", "all_plain"):
        RandomCrop.apply = gathered_crop
    if variant in ("int64_items", "all_plain"):
        datamodules.LabelMapDataset = Int64Items
    try:
        yield
    finally:
        generator_module.quantile, RandomCrop.apply, datamodules.LabelMapDataset = saved


def batches(variant: str, n: int) -> tuple[float, list[dict]]:
    """(seconds for n batches after 3 warm-up ones, the batches) through a fresh DataModule (seeded: every
    variant draws the same batches)."""
    with plain(variant):
        cfg = compose_config(["data=synth"], output_dir="/tmp/data_path_speed")
        dm = instantiate(cfg.data, _convert_="all")
        dm.setup("fit")
        dm.trainer = SimpleNamespace(training=True, global_rank=0)
        loader = (batch for _ in iter(int, 1) for batch in dm.train_dataloader())  # epoch after epoch
        out = [dm.on_after_batch_transfer(next(loader), 0) for _ in range(3)]
        start = time.perf_counter()
        out += [dm.on_after_batch_transfer(next(loader), 0) for _ in range(n)]
        seconds = time.perf_counter() - start
    return seconds, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    times = {v: [] for v in VARIANTS}
    identical = dict.fromkeys(VARIANTS, True)
    for _ in range(args.rounds):
        reference = None
        for variant in VARIANTS:
            seconds, out = batches(variant, args.batches)
            times[variant].append(seconds / args.batches * 1000)
            reference = out if reference is None else reference
            identical[variant] &= all(a.keys() == b.keys() and all(
                torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype if torch.is_tensor(a[k]) else a[k] == b[k]
                for k in a) for a, b in zip(out, reference))
            print(variant, round(times[variant][-1], 2), "ms per batch", flush=True)
    median = {v: statistics.median(t) for v, t in times.items()}
    write("data_path_speed", {
        "command": " ".join(["python", *sys.argv]), "batches_per_round": args.batches, "rounds": args.rounds,
        "batch_size": 8, "threads": 2, "ms_per_batch_median": median, "ms_per_batch_rounds": times,
        "identical_batches_to_current": identical,
        "saved_over_2000_steps_s": round((median["all_plain"] - median["current"]) * 2000 / 1000, 1),
        "note": "Model A's input path (DataModule loader + crop + synthesis + negatives), no network; each variant "
                "puts one lever back as it was (see the script's docstring)"})


if __name__ == "__main__":
    main()
