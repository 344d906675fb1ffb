"""Inference levers for evaluation, validation and predict, side by side, on this machine (the main job's budget).

  python benchmarks/inference_speed.py [--seconds 3] [--out inference_speed]

  tiles        forward tiles / s of the shipped Model A's U-Net on 160 x 128 px windows (the sliding window's), per
               tiles per forward call (4, 6, 16, 32: batching more tiles, e.g. those of a whole volume, is the
               "batched volume inference" lever), float32 or bfloat16 autocast, the activations channels-last (the
               U-Net on the CPU) or NCHW, and "plain_pool": NCHW with torch's nn.MaxPool2d (before MaxPool2x2)
  class_map    ms per class map of a (4, 210, 168) softmax: torch's argmax(0) and ``tensors.argmax`` (max().indices)
  precision    every shipped model on the validation families (validation: the SPIDER validation patients;
               shift_validation: Dixon and TSE shift-validation slices; never a test) at float32 and at bfloat16:
               seconds, mean Dice per structure (vb_dice where only bodies are labelled), the share of pixels whose label differs, and for Model A the
               modes quality score and the slices it flags at the shipped threshold
  layout       every shipped model on the validation families with the U-Net's activations channels-last (how it
               runs on the CPU) and in NCHW (the layout before), at float32 and at bfloat16: the precision part's
               columns per way, and the share of pixels whose label differs between the layouts at each precision
               (its own run: --parts layout --out layout_check)
  volume       one shift-validation volume (every slice) through ``segment_stack`` at both precisions: seconds and
               the voxels whose label differs
  home_field   (its own run: --parts home_field --out home_field_speed) the standard test's home-field copies
               (contrast and resolution variants) built on 1 and on 2 threads, identical; and the seconds of
               segmenting the resolution group's native variant, the standard test's very slices, which evaluation
               now reuses (bf16)
  validation   seconds of one validation pass of data=synth (val_synth + val_real, Lightning at the trainer's
               precision) on the shipped Model A: the cost of each validation of the 2,000-step run (every 400 steps)
Writes results/benchmarks/<out>.json.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from _common import rate, write
from spine_synthseg.config import PROJECT_ROOT, compose_config, to_dict
from spine_synthseg.data import families
from spine_synthseg.data.parallel import thread_map
from spine_synthseg.data.orientation import SagittalLayout
from spine_synthseg.data.spider_mha import read_volume
from spine_synthseg.evaluation.body_metrics import vertebral_body_metrics
from spine_synthseg.evaluation.cases import build_cases
from spine_synthseg.evaluation.metrics import dice_per_structure
from spine_synthseg.models.checkpoint import load_checkpoint
from spine_synthseg.models.inference import precision, segment_slices, segment_stack
from spine_synthseg.models.quality import quality_scores
from spine_synthseg.structures import FOREGROUND, SHORT_NAMES
from spine_synthseg.tensors import argmax

MODELS = ("model_a", "model_b", "model_b_aug", "model_c")
PRECISIONS = ("32", "bf16")


def tiles(net: torch.nn.Module, seconds: float) -> list[dict]:
    """Layouts: "channels_last" the U-Net as it runs on the CPU (activations channels-last throughout), "nchw" its
    activations in NCHW (cpu_channels_last=False, the layout before), "plain_pool" NCHW with torch's nn.MaxPool2d."""
    rows = []
    fast_pool = net.pool
    for layout in ("plain_pool", "nchw", "channels_last"):
        net.cpu_channels_last = layout == "channels_last"
        net.pool = torch.nn.MaxPool2d(2) if layout == "plain_pool" else fast_pool
        for prec in PRECISIONS:
            for batch in (4, 6, 16, 32):
                x = torch.rand(batch, 1, 160, 128)
                with torch.no_grad(), precision(net, prec):
                    speed = rate(lambda: net(x).float().softmax(1), batch, seconds, warmup=1)
                rows.append({"layout": layout, "precision": prec, "tiles_per_call": batch, "tiles_per_s": round(speed, 1)})
                print(rows[-1], flush=True)
    net.cpu_channels_last, net.pool = True, fast_pool
    return rows


def class_map() -> dict:
    prob = torch.rand(4, 210, 168).softmax(0)
    assert torch.equal(prob.argmax(0), argmax(prob, 0))
    return {"argmax_ms": round(1e3 / rate(lambda: prob.argmax(0), 1, 1.0, warmup=1), 3),
            "max_indices_ms": round(1e3 / rate(lambda: argmax(prob, 0), 1, 1.0, warmup=1), 3)}


def _setting(model, way: str):
    """A way of running inference: "32" / "bf16" (the U-Net channels-last on the CPU), "nchw_32" / "nchw_bf16"
    (its activations in NCHW, the layout before)."""
    model.net.cpu_channels_last = not way.startswith("nchw")
    return precision(model, way.split("_")[-1])


def compare_rows(cfg, qc_threshold: float, ways: tuple[str, ...], pairs: dict[str, tuple[str, str]]) -> list[dict]:
    """Every shipped model on the validation families in each of `ways` (``_setting``): seconds, mean Dice per
    structure (vb_dice where only bodies are labelled), Model A's modes quality score and the slices it flags, and
    for each pair the share of pixels whose label differs (key ``pixels_differing`` + pair name)."""
    rows = []
    for name in MODELS:
        model = load_checkpoint(PROJECT_ROOT / "models" / f"{name}.ckpt", to_dict(cfg.preprocess))
        cases, _ = build_cases(cfg, {"source": "spider_t2space", **model.hparams.splits})
        for case in cases:
            images, spacings = [case.image(i) for i in range(len(case.records))], [r.spacing_mm for r in case.records]
            out = {}
            for way in ways:
                with _setting(model, way):
                    start = time.perf_counter()
                    preds = segment_slices(model, images, spacings, mode=str(cfg.inference_mode))
                    seconds = time.perf_counter() - start
                    qc = quality_scores(model, images, spacings, preds, "modes", str(cfg.inference_mode),
                                        str(cfg.predict.quality_second_mode)) if name == "model_a" else None
                out[way] = preds, seconds, qc
            model.net.cpu_channels_last = True
            row = {"model": name, "test": case.test, "variant": case.variant, "slices": len(images)}
            for pair, (a, b) in pairs.items():
                differ = sum(int((p != q).sum()) for p, q in zip(out[a][0], out[b][0]))
                row[f"pixels_differing{pair}"] = differ / sum(p.size for p in out[a][0])
            for way, (preds, seconds, qc) in out.items():
                row[f"seconds_{way}"] = round(seconds, 2)
                if case.scoring == "structures":
                    dice = np.concatenate([dice_per_structure(p[None], r.structures[None], np.asarray(r.annotated)[None])
                                           for p, r in zip(preds, case.records)])
                    for j, s in enumerate(FOREGROUND):
                        row[f"dice_{SHORT_NAMES[s]}_{way}"] = float(np.nanmean(dice[:, j]))
                else:  # vertebral bodies only
                    row[f"vb_dice_{way}"] = float(np.nanmean([vertebral_body_metrics(p, r.structures, r.spacing_mm)
                                                              ["vb_dice"] for p, r in zip(preds, case.records)]))
                if qc is not None:
                    row[f"qc_modes_mean_{way}"] = float(np.nanmean(qc))
                    row[f"qc_flagged_{way}"] = int(np.sum(np.asarray(qc) < qc_threshold))
            rows.append(row)
            print(row, flush=True)
    return rows


def volume_row(cfg) -> dict:
    catalog = to_dict(cfg.catalog)
    family = families.families(catalog)["dixon_volumes_shift_val"]
    v = families.volumes(family)[0]
    model = load_checkpoint(PROJECT_ROOT / "models" / "model_a.ckpt", to_dict(cfg.preprocess))
    image = read_volume(v.image)
    layout = SagittalLayout.of(image, str(v.image))
    slices = layout.to_slices(image)
    out = {"subject": v.subject, "slices": int(len(slices))}
    labels = {}
    for prec in PRECISIONS:
        with precision(model, prec):
            start = time.perf_counter()
            labels[prec] = segment_stack(model, slices, layout.spacing_rc_mm, str(cfg.inference_mode))
            out[f"seconds_{prec}"] = round(time.perf_counter() - start, 2)
    out["voxels_differing"] = float((labels["32"] != labels["bf16"]).mean())
    return out


def home_field() -> dict:
    cfg = compose_config(["evaluation.tests=[standard,contrast,resolution]"], output_dir="/tmp/inference_speed")
    model = load_checkpoint(PROJECT_ROOT / "models" / "model_a.ckpt", to_dict(cfg.preprocess))
    cases, _ = build_cases(cfg, {"source": "spider_t2space", **model.hparams.splits})
    perturbed = [c for c in cases if c.transform is not None]
    out, built = {"variants": [c.variant for c in perturbed]}, {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        start = time.perf_counter()
        built[threads] = [thread_map(c.image, range(len(c.records))) for c in perturbed]
        out[f"build_seconds_{threads}_threads"] = round(time.perf_counter() - start, 2)
    out["identical"] = all(np.array_equal(a, b) for x, y in zip(built[1], built[2]) for a, b in zip(x, y))
    native = next(c for c in cases if c.test == "resolution" and c.transform is None)
    images = [native.image(i) for i in range(len(native.records))]
    with precision(model, "bf16"):
        start = time.perf_counter()
        segment_slices(model, images, [r.spacing_mm for r in native.records], mode=str(cfg.inference_mode))
        out["native_variant_inference_seconds_bf16"] = round(time.perf_counter() - start, 2)
    out["native_variant"], out["native_slices"] = native.variant, len(images)
    return out


def validation_pass() -> dict:
    import lightning.pytorch as pl
    from hydra.utils import instantiate

    from spine_synthseg.training.train import build_module

    cfg = compose_config(["data=synth"], output_dir="/tmp/inference_speed_validation")
    dm = instantiate(cfg.data, _convert_="all")
    module = build_module(cfg, dm)
    module.load_state_dict(torch.load(PROJECT_ROOT / "models" / "model_a.ckpt", weights_only=False)["state_dict"])
    trainer = pl.Trainer(accelerator="cpu", precision=cfg.trainer.precision, logger=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.validate(module, dm, verbose=False)  # warm-up
    start = time.perf_counter()
    found = trainer.validate(module, dm, verbose=False)[0]
    seconds = time.perf_counter() - start
    n = int(cfg.trainer.max_steps) // int(cfg.trainer.val_check_interval)
    return {"seconds": round(seconds, 2), "precision": str(cfg.trainer.precision), "val_synth_images": len(dm.synth_val["image"]),
            "val_real_slices": len(dm.val_native), "validations_per_run": n,
            "dice_mean": {k: round(float(v), 4) for k, v in found.items() if k.endswith("dice_mean")},
            "note": "each validation also selects the checkpoint (val_synth); another cadence trains another model"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--out", default="inference_speed")
    parser.add_argument("--parts", default="tiles,class_map,precision,volume,validation")
    args = parser.parse_args()
    torch.set_num_threads(2)
    parts = args.parts.split(",")
    cfg = compose_config(["evaluation.tests=[validation,shift_validation]"], output_dir="/tmp/inference_speed")
    ckpt = torch.load(PROJECT_ROOT / "models" / "model_a.ckpt", weights_only=False)
    threshold = float(ckpt.get("quality", {}).get("threshold", float("nan")))
    out = {"inference_mode": str(cfg.inference_mode), "threads": torch.get_num_threads(), "qc_threshold": threshold}
    if "tiles" in parts:
        out["tiles"] = tiles(load_checkpoint(PROJECT_ROOT / "models" / "model_a.ckpt").net.eval(), args.seconds)
    if "class_map" in parts:
        out["class_map"] = class_map()
    if "precision" in parts:
        out["precision"] = compare_rows(cfg, threshold, PRECISIONS, {"": PRECISIONS})
    if "layout" in parts:
        out["layout"] = compare_rows(cfg, threshold, ("nchw_32", "32", "nchw_bf16", "bf16"),
                                     {"_32": ("nchw_32", "32"), "_bf16": ("nchw_bf16", "bf16")})
    if "volume" in parts:
        out["volume"] = volume_row(cfg)
    if "home_field" in parts:
        out["home_field"] = home_field()
    if "validation" in parts:
        out["validation"] = validation_pass()
    write(args.out, out)


if __name__ == "__main__":
    main()
