"""Training images per second on this machine, per working spacing, and the generator's share of a step.

  python benchmarks/training_speed.py [--seconds 8] [--batch 8]

For each working grid (1.0 mm 240x192, 1.25 mm 192x160, 1.5 mm 160x128) and 1 / 2 threads: one AdamW step of
the default U-Net (Dice + CE) on a batch, without and with on-the-fly synthesis. This is how the default
working spacing was chosen. Writes results/benchmarks/training_speed.json.
"""

from __future__ import annotations

import argparse

import torch

from _common import grid_overrides, model_a_generator, rate, training_label_maps, write
from spine_synthseg.models.loss import DiceCELoss
from spine_synthseg.models.unet import UNet

GRIDS = ((1.0, (240, 192)), (1.25, (192, 160)), (1.5, (160, 128)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    results = {"batch": args.batch, "model": "UNet depth 4, base 16, instance norm", "grids": []}
    for spacing, size in GRIDS:
        labels = training_label_maps(args.batch, grid_overrides(spacing, size))
        gen = model_a_generator(grid_overrides(spacing, size))
        for threads in (1, 2):
            torch.set_num_threads(threads)
            torch.manual_seed(0)
            net, loss = UNet(), DiceCELoss()
            opt = torch.optim.AdamW(net.parameters(), 1e-3)
            rng = torch.Generator().manual_seed(0)
            fixed = gen.generate_batch(labels, rng)

            def step(synthesise: bool):
                batch = gen.generate_batch(labels, rng) if synthesise else fixed
                opt.zero_grad()
                loss(net(batch.image), batch.structures).backward()
                opt.step()

            train_only = rate(lambda: step(False), args.batch, args.seconds)
            with_synthesis = rate(lambda: step(True), args.batch, args.seconds)
            generation = rate(lambda: gen.generate_batch(labels, rng), args.batch, args.seconds / 2)
            results["grids"].append({
                "spacing_mm": spacing, "size": list(size), "threads": threads,
                "train_images_per_s": train_only, "train_with_synthesis_images_per_s": with_synthesis,
                "generator_slices_per_s": generation, "generator_over_training_rate": generation / train_only,
            })
            print(results["grids"][-1])
    write("training_speed", results)


if __name__ == "__main__":
    main()
