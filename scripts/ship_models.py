"""Ship an experiment's seed-0 checkpoints as models/<name>.ckpt (weights + hyper-parameters only, no optimizer
state) with a model card each (models/<name>.md: data, config, command, headline metrics).

  python scripts/ship_models.py outputs/final results/final models --mode sliding_window   # the frozen experiment
  python scripts/ship_models.py --cards results/final models   # refresh the cards' tables from RESULTS/headline.csv

--mode stores the experiment's frozen inference mode in the checkpoints (predict uses it unless told otherwise);
without it they keep the mode they were validated with during training.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spine_synthseg.evaluation.collect import run_config  # noqa: E402

CARDS = {
    "model_a": ("Model A: synthetic images only", "experiment=model_a (data=synth)",
                "label maps of the 25 SPIDER T2 SPACE training patients, turned into random synthetic MRIs on the fly "
                "(SpineSynthGenerator, the generator of its experiment file). It never read a real intensity; with the "
                "frozen generator (freeze/model_a_combined) the background and sub-label maps it paints are k-means "
                "clusters of the training slices (class indices only, disclosed like SynthSeg's extra labels). "
                "Checkpoint chosen on a fixed synthetic validation set (val_synth)."),
    "model_b": ("Model B: real images only", "experiment=model_b (data=real)",
                "real T2 SPACE images of the 25 training patients with spatial augmentation only. Checkpoint chosen on "
                "the 6 real validation patients (val_real)."),
    "model_b_aug": ("Model B+aug: real images with nnU-Net intensity augmentation (the fair baseline)",
                    "experiment=model_b_aug (data=real_aug)",
                    "real T2 SPACE images of the 25 training patients with spatial augmentation and nnU-Net's default "
                    "intensity augmentation. Checkpoint chosen on the 6 real validation patients (val_real)."),
    "model_c": ("Model C: synthetic and real images mixed in every batch", "experiment=model_c (data=mixed)",
                "each batch of 8: 4 synthetic images from label maps of the 25 training patients (as Model A) and 4 "
                "real T2 SPACE images (as Model B). Checkpoint chosen on the 6 real validation patients (val_real)."),
}


def strip(src: Path, dst: Path, mode: str | None = None) -> None:
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    keep = {k: ckpt[k] for k in ("state_dict", "hyper_parameters", "pytorch-lightning_version", "epoch", "global_step")}
    if mode is not None:
        keep["hyper_parameters"]["inference_mode"] = mode  # the experiment's frozen mode, read by predict
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(keep, dst)


def card(name: str, run: Path, headline: list[dict], mode: str | None = None) -> str:
    title, _, data = CARDS[name]
    metrics = json.loads((run / "metrics.json").read_text())
    experiment = metrics.get("experiment") or name
    lines = [f"# {title}", "", f"`models/{name}.ckpt`: the seed-0 run of the frozen experiment "
             f"(`bash scripts/run_freeze.sh`, i.e. `python run.py experiment={experiment} seed=0`, commit "
             f"{metrics.get('commit', 'unknown')}); inference: `{mode or metrics.get('inference_mode', 'sliding_window')}`"
             " (results/protocol.md, entry 3).", "",
             f"- Config: `{run_config(run)}`; batch {metrics['batch_size']} crops of 160 x 128 px from "
             f"whole slices at 1.5 mm, 2D U-Net depth 4 / base 16 / instance norm, Dice + CE, AdamW 2e-3.",
             f"- Data: {data}", f"- Selected checkpoint: `{metrics['checkpoint']}` by `{metrics['monitor']}` "
             f"= {metrics['best_val_of_monitor']:.4f}; real validation Dice (whole slices) "
             f"{metrics['validation']['val_real/dice_mean']:.4f}.",
             INPUT_LINE,
             "- Output: 0 background, 1 vertebra (body + posterior elements, as SPIDER labels it), 2 disc, 3 canal.",
             ""] + headline_table(name, headline) + ["", use_line(name), ""]
    return "\n".join(lines)


HEADLINE_INTRO = "Headline results"
INPUT_LINE = ("- Input: any sagittal slice or volume: PNG slices with their pixel spacing, a .mha / .nii(.gz) / .nrrd volume "
              "or a DICOM series folder; resampled to 1.5 mm inside.")


def use_line(name: str) -> str:
    return (f"Use: `spine-synthseg-predict models/{name}.ckpt INPUT OUTPUT` (after `pip install -e .`; or "
            f"`python -m spine_synthseg.predict ...`); a per-slice quality score and check flag are written beside the output.")


def headline_table(name: str, headline: list[dict]) -> list[str]:
    """The card's lines on the headline tests: mean over seeds, two-level 95 % CI, seed SD (results/headline.csv)."""
    rows = [r for r in headline if r["model"] == name]
    lines = [f"{HEADLINE_INTRO} (mean over the seeds of this configuration, 95 % CI over patients and seeds, "
             "seed SD; `results/final/headline.csv`):", "", "| test | metric | seeds | mean [95% CI] | seed SD |",
             "|---|---|---|---|---|"]
    return lines + [f"| {r['test']} | {r['metric']} | {r['n_seeds']} | {float(r['mean']):.3f} [{float(r['ci_low']):.3f}, "
                    f"{float(r['ci_high']):.3f}] | {float(r['seed_sd']):.3f} |" for r in rows]


def refresh_cards(results: Path, models: Path) -> None:
    """Replace each card's headline table (from its HEADLINE_INTRO line to the line before "Use:")."""
    headline = list(csv.DictReader(open(results / "headline.csv")))
    for name in CARDS:
        lines = (models / f"{name}.md").read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(HEADLINE_INTRO))
        end = next(i for i, line in enumerate(lines) if line.startswith("Use:"))
        lines[start:end - 1] = headline_table(name, headline)
        lines = [INPUT_LINE if line.startswith("- Input:") else use_line(name) if line.startswith("Use:") else line
                 for line in lines]
        (models / f"{name}.md").write_text("\n".join(lines) + "\n")
        print(f"refreshed {models / name}.md")


def main(runs: Path, results: Path, out: Path, mode: str | None = None) -> None:
    headline = list(csv.DictReader(open(results / "headline.csv")))
    for name in CARDS:
        run = (runs / f"{name}_seed0").resolve()
        metrics = json.loads((run / "metrics.json").read_text())
        strip(run / metrics["checkpoint"], out / f"{name}.ckpt", mode)
        (out / f"{name}.md").write_text(card(name, run, headline, mode))
        print(f"{out / name}.ckpt ({(out / f'{name}.ckpt').stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    if sys.argv[1] == "--cards":
        refresh_cards(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        mode = sys.argv[sys.argv.index("--mode") + 1] if "--mode" in sys.argv else None
        main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), mode)
