"""Training-step speed levers on this machine, for Model A (synthetic batches) and Model B (real batches) alike.

  python benchmarks/step_speed.py [--seconds 20] [--variants fp32,channels_last,bf16,...] [--rounds 1] [--out NAME]
                                  [--overrides model.base_channels=24 ...]

Every variant runs the real training input path: the project's DataModule (data=synth or data=real, default
config), its train_dataloader and on_after_batch_transfer (synthesis for A, crops + spatial deformation for B),
then one AdamW step of the default U-Net with Dice + CE. Reported: images per second over `--seconds` after
warm-up, and the split of a step into data / forward / backward / optimiser (fp32, 2 threads). Variants:
  fp32              the current default (float32, contiguous tensors, 2 threads)
  threads1          torch.set_num_threads(1)
  channels_last     model and batch in channels_last memory format
  bf16              torch.autocast("cpu", bfloat16) around forward + loss (Lightning's precision="bf16-mixed")
  bf16_channels_last
  compile           torch.compile(net) (default mode; compile time reported separately)
  bf16_compile      bf16 autocast and torch.compile together
  bf16_plain_pool   bf16 with torch's own nn.MaxPool2d on NCHW tensors (the U-Net's pooling before MaxPool2x2)
  bf16_inplace_relu bf16 with torch's in-place LeakyReLU in training too (the U-Net's activation before
                    unet.LeakyReLU, which is out of place while a gradient is taken)
  bf16_prefetch     bf16, with the next batch made in a background thread while the step runs (data loading
                    overlapped with compute: the generator's torch kernels release the GIL)
  bf16_nchw         bf16 with the U-Net's activations in NCHW (cpu_channels_last=False: the layout before the
                    channels-last U-Net; torch's instance norm)
  bf16_streams      bf16, the batch split between concurrent streams of one torch thread each, forward and
                    backward (split_batch below; bf16 is the whole batch in one stream on both threads); not adopted
--overrides are Hydra overrides applied to the composed config (e.g. the capacity lever: model.base_channels=24).
Writes results/benchmarks/<out>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import queue
import statistics
import sys
import threading
import time
from types import SimpleNamespace

import torch
from hydra.utils import instantiate

from _common import machine, with_torch_leaky_relu, write
from spine_synthseg.config import compose_config
from spine_synthseg.models.loss import DiceCELoss
from spine_synthseg.data.parallel import thread_map

VARIANTS = ("fp32", "threads1", "channels_last", "bf16", "bf16_channels_last", "compile", "bf16_compile",
            "bf16_plain_pool", "bf16_inplace_relu", "bf16_prefetch", "bf16_nchw", "bf16_streams")


def batches(data: str, overrides: list[str]):
    """An endless iterator of training batches exactly as Lightning would feed them (CPU)."""
    cfg = compose_config([f"data={data}", *overrides], output_dir="/tmp/step_speed")
    dm = instantiate(cfg.data, _convert_="all")
    dm.setup("fit")
    dm.trainer = SimpleNamespace(training=True, global_rank=0)  # what on_after_batch_transfer asks of a Trainer
    while True:
        for batch in dm.train_dataloader():
            yield dm.on_after_batch_transfer(batch, 0)


def prefetched(source, depth: int = 2):
    """The batches of `source`, each made in a background thread while the previous one trains."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    threading.Thread(target=lambda: [ready.put(b) for b in source], daemon=True).start()
    while True:
        yield ready.get()


class _SplitBatch(torch.autograd.Function):
    """net(x) with x's batch split in n parts, each part's forward and, in backward, its parameter gradients in one
    worker of one torch thread (``thread_map``); the parts' gradients summed in the parts' order. Exact for a net
    whose output per image depends on that image alone (the default U-Net: instance norm, no dropout); the logits
    matched net(x)'s, the gradients to bf16 rounding (scratch checks, not committed)."""

    @staticmethod
    def forward(ctx, x, net, n, *params):
        def part(xp):
            with torch.enable_grad():  # a Function's forward runs without grad; each part keeps its graph
                return net(xp)

        ctx.outputs, ctx.params = thread_map(part, x.chunk(n)), params
        return torch.cat([out.detach() for out in ctx.outputs])

    @staticmethod
    def backward(ctx, grad):
        outputs, params = ctx.outputs, ctx.params
        del ctx.outputs
        parts = grad.split([out.shape[0] for out in outputs])
        per_part = thread_map(lambda og: torch.autograd.grad(og[0], params, og[1]), list(zip(outputs, parts)))
        return (None, None, None, *(torch.stack(g).sum(0) for g in zip(*per_part)))


def split_batch(net, x):
    """The bf16_streams variant's forward: the batch split between torch.get_num_threads() streams."""
    return _SplitBatch.apply(x, net, min(torch.get_num_threads(), x.shape[0]), *net.parameters())


def run_variant(data: str, variant: str, seconds: float, overrides: list[str]) -> dict:
    torch.manual_seed(0)
    torch.set_num_threads(1 if variant == "threads1" else 2)
    cfg = compose_config([f"data={data}", *overrides], output_dir="/tmp/step_speed")
    net = instantiate(cfg.model)
    if "nchw" in variant:
        net.cpu_channels_last = False
    if "plain_pool" in variant:
        net.pool = torch.nn.MaxPool2d(2)
    if "inplace_relu" in variant:
        net = with_torch_leaky_relu(net, inplace=True)
    channels_last = "channels_last" in variant
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    loss_fn, opt = DiceCELoss(), torch.optim.AdamW(net.parameters(), 1e-3)
    compile_s = None
    if "compile" in variant:
        start = time.perf_counter()
        net = torch.compile(net)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if "bf16" in variant else contextlib.nullcontext
    source = batches(data, overrides)
    if "prefetch" in variant:
        source = prefetched(source)
    forward = (lambda x: split_batch(net, x)) if "streams" in variant else net
    split = {"data": 0.0, "forward": 0.0, "backward": 0.0, "optimiser": 0.0}

    def step(record: bool) -> int:
        t0 = time.perf_counter()
        batch = next(source)
        image = batch["image"].contiguous(memory_format=torch.channels_last) if channels_last else batch["image"]
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(forward(image), batch["structures"])
        t2 = time.perf_counter()
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if record:
            for key, dt in zip(split, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                split[key] += dt
        return image.shape[0]

    step(False)
    if "compile" in variant:
        compile_s = time.perf_counter() - start
    for _ in range(2):
        step(False)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += step(True)
    elapsed = time.perf_counter() - start
    total = sum(split.values())
    return {"data": data, "variant": variant, "images_per_s": n / elapsed, "steps": n // 8,
            "share": {k: v / total for k, v in split.items()}, "compile_s": compile_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data", default="synth,real")
    parser.add_argument("--rounds", type=int, default=1, help="every variant once per round, in turn (median reported)")
    parser.add_argument("--out", default="step_speed")
    parser.add_argument("--overrides", nargs="*", default=[])
    args = parser.parse_args()
    rows = []
    for data in args.data.split(","):
        for r in range(args.rounds):
            for variant in args.variants.split(","):
                rows.append({**run_variant(data, variant, args.seconds, args.overrides), "round": r})
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    median = {f"{d}/{v}": statistics.median(r["images_per_s"] for r in rows if r["data"] == d and r["variant"] == v)
              for d in args.data.split(",") for v in args.variants.split(",")}
    write(args.out, {"command": " ".join(["python", *sys.argv]), "machine": machine(), "seconds_per_variant": args.seconds, "batch": 8, "rounds": args.rounds,
                     "overrides": args.overrides, "median_images_per_s": median, "rows": rows})


if __name__ == "__main__":
    main()
