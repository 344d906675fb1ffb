"""Synthetic slices per second: SpineSynthGenerator (batched torch) vs an equivalent TorchIO pipeline.

  python benchmarks/generator_speed.py [--seconds 8] [--batch 32] [--device cpu|cuda]

Both pipelines start from the same training label maps at the working grid (1.5 mm, 160 x 128) and make
elastic + GMM + bias + motion + anisotropic resolution + noise, like for like: motion on 30 % of the images
in both (ours: motion.prob 0.3; TorchIO: RandomMotion(p=0.3)). TorchIO runs one subject at a time, as in its
data loaders; ours runs one batch at a time. Threads: 1 and 2 (torch.set_num_threads); the speed-up is
against TorchIO's best thread count.
Writes results/benchmarks/generator_speed.json.
"""

from __future__ import annotations

import argparse

import torch

from _common import model_a_generator, rate, training_label_maps, write


def torchio_pipeline():
    import torchio as tio

    return tio.Compose([
        tio.RandomElasticDeformation(num_control_points=5, max_displacement=(4.5, 4.5, 0), locked_borders=2),
        tio.RandomLabelsToImage(label_key="label", image_key="image", ignore_background=False),
        tio.RandomBiasField(coefficients=0.5),
        tio.RandomMotion(degrees=5, translation=5, num_transforms=2, p=0.3),  # ours: motion.prob 0.3
        tio.RandomAnisotropy(axes=(0, 1), downsampling=(1, 2.7)),
        tio.RandomNoise(std=(0, 0.05)),
    ])


def torchio_rate(labels: torch.Tensor, seconds: float) -> float:
    import torchio as tio

    pipeline = torchio_pipeline()
    subjects = [tio.Subject(label=tio.LabelMap(tensor=lab[None, :, :, None].int())) for lab in labels]
    state = {"i": 0}

    def one():
        pipeline(subjects[state["i"] % len(subjects)])
        state["i"] += 1

    return rate(one, 1, seconds, warmup=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    labels = training_label_maps(args.batch)
    gen = model_a_generator()  # the Model A defaults: full spectrum, all artifacts, 1-4 mm / 8 mm
    results = {"grid": "1.5 mm, 160 x 128", "batch": args.batch, "ours": {}, "torchio": {}}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        batch = {k: v.to(args.device) for k, v in labels.items()}
        rng = torch.Generator(device=args.device).manual_seed(0)

        def ours():
            gen.generate_batch(batch, rng)
            if args.device == "cuda":
                torch.cuda.synchronize()

        results["ours"][f"{args.device}_{threads}_threads"] = rate(ours, args.batch, args.seconds)
        try:
            results["torchio"][f"cpu_{threads}_threads"] = torchio_rate(labels["instances"], args.seconds)
        except ImportError:
            results["torchio"] = "torchio not installed (pip install -r requirements-bench.txt)"
    if isinstance(results["torchio"], dict):
        best = max(results["torchio"].values())
        results["speedup_vs_torchio_best"] = {k: v / best for k, v in results["ours"].items()}
    write(f"generator_speed_{args.device}", results)


if __name__ == "__main__":
    main()
