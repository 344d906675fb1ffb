"""The exact kernels behind the main job's newer levers, each against its alternative, interleaved (2 threads).

  python benchmarks/kernel_speed.py [--rounds 7]

  quantile      the 0.5 / 99.5 % percentiles of a generator batch (8 x 160 x 128) and of one inference slice
                (210 x 168): tensors.quantile (topk order statistics) against torch.quantile (a full sort)
  crop          RandomCrop.apply of one uint8 / int64 label key (8 x 160 x 128 -> 8 x 128 x 96, shapes of this
                benchmark, not the main job's): one view per image
                against one advanced-indexing gather
  leaky_relu    the U-Net's bf16 forward on 6 tiles of 160 x 128 without grad (inference): unet.LeakyReLU (in place
                without grad, as torch's in-place one was everywhere before) against torch's LeakyReLU out of place
                (the alternative: out of place everywhere, which training now is)
Milliseconds per call, the median of `rounds` rounds (each round times both sides in turn); outputs checked equal.
Writes results/benchmarks/kernel_speed.json.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from _common import gathered_crop, with_torch_leaky_relu, write
from spine_synthseg.models.unet import UNet
from spine_synthseg.tensors import quantile
from spine_synthseg.training.crops import RandomCrop


def ms(fn, calls: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1000


def pairs() -> dict[str, tuple]:
    """name -> (ours, theirs, calls): zero-argument callables giving equal outputs."""
    g = torch.Generator().manual_seed(0)
    q = torch.tensor([0.005, 0.995])
    batch, slice_ = torch.rand(8, 160 * 128, generator=g), torch.rand(210 * 168, generator=g)
    crop = RandomCrop((128, 96))
    corners = torch.stack([torch.randint(0, 33, (8,), generator=g), torch.randint(0, 33, (8,), generator=g)], 1)
    labels = torch.randint(0, 4, (8, 160, 128), generator=g, dtype=torch.uint8)
    wide = labels.long()
    net = UNet().eval()
    plain = with_torch_leaky_relu(copy.deepcopy(net), inplace=False)
    tiles = torch.rand(6, 1, 160, 128, generator=g)

    def infer(model):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            return model(tiles)

    return {
        "quantile_batch_8x160x128": (lambda: quantile(batch, q, 1), lambda: torch.quantile(batch, q, dim=1), 200),
        "quantile_slice_210x168": (lambda: quantile(slice_, q), lambda: torch.quantile(slice_, q), 200),
        "crop_uint8_key": (lambda: crop.apply(corners, labels), lambda: gathered_crop(crop, corners, labels), 300),
        "crop_int64_key": (lambda: crop.apply(corners, wide), lambda: gathered_crop(crop, corners, wide), 300),
        "leaky_relu_inference_6_tiles": (lambda: infer(net), lambda: infer(plain), 10),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(2)
    out = {}
    for name, (ours, theirs, calls) in pairs().items():
        equal = torch.equal(ours(), theirs())
        times = {"ours": [], "replaced": []}
        for _ in range(args.rounds):
            times["ours"].append(ms(ours, calls))
            times["replaced"].append(ms(theirs, calls))
        med = {k: statistics.median(v) for k, v in times.items()}
        out[name] = {"ms_ours": med["ours"], "ms_replaced": med["replaced"], "speed_up": med["replaced"] / med["ours"],
                     "equal_outputs": equal, "rounds_ms": times}
        print(name, {k: round(v, 3) for k, v in med.items()}, "equal" if equal else "DIFFERENT", flush=True)
    write("kernel_speed", {"command": "python benchmarks/kernel_speed.py", "rounds": args.rounds, "threads": 2,
                           "kernels": out})


if __name__ == "__main__":
    main()
