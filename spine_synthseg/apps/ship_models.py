"""Ship an experiment's seed-0 checkpoints as models/<name>.ckpt (weights + hyper-parameters only, no optimizer
state) with a model card each (models/<name>.md: data, config, command, headline metrics).

  python scripts/ship_models.py outputs/volume_freeze results/volume_freeze models --mode sliding_window \
      --qc-threshold results/volume_freeze/qc_threshold.json --entry 5           # the frozen experiment (entry 5)
  python scripts/ship_models.py --cards results/volume_freeze models   # refresh the cards from RESULTS/headline.csv
  python scripts/ship_models.py --qc-only models results/archive/qc_threshold.json [--note TEXT]   # store a QC choice in the
                                                                                 # checkpoints (the note: on their cards)

--qc-threshold FILE (or --qc-only) stores the quality score and threshold chosen on validation (the file that
``scripts/collect.py qc`` wrote) in the checkpoints; predict flags slices with it unless told another threshold.

--mode stores the experiment's frozen inference mode in the checkpoints (predict uses it unless told otherwise);
without it they keep the mode they were validated with during training.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch
import yaml

from spine_synthseg.data import families
from spine_synthseg.evaluation.collect import run_config
from spine_synthseg.evaluation.report_tables import family_label

CARDS = {
    "model_a": ("Model A: synthetic images only", "python run.py data=synth",  # the main job trains the same
                "label maps of the 25 SPIDER T2 SPACE training patients, turned into random synthetic MRIs on the fly "
                "(SpineSynthGenerator, the generator of its experiment file). It never read a real intensity; with the "
                "shipped recipe (conf/recipe/model_a.yaml) the background and sub-label maps it paints are k-means "
                "clusters of the training slices (class indices only, disclosed like SynthSeg's extra labels). "
                "Checkpoint chosen on a fixed synthetic validation set (val_synth)."),
    "model_b": ("Model B: real images only", "",
                "real T2 SPACE images of the 25 training patients with spatial augmentation only. Checkpoint chosen on "
                "the 6 real validation patients (val_real)."),
    "model_b_aug": ("Model B+aug: real images with nnU-Net intensity augmentation (the fair baseline)",
                    "",
                    "real T2 SPACE images of the 25 training patients with spatial augmentation and nnU-Net's default "
                    "intensity augmentation. Checkpoint chosen on the 6 real validation patients (val_real)."),
    "model_c": ("Model C: synthetic and real images mixed in every batch", "",
                "each batch of 8: 4 synthetic images from label maps of the 25 training patients (as Model A) and 4 "
                "real T2 SPACE images (as Model B). Checkpoint chosen on the 6 real validation patients (val_real)."),
}


def strip(src: Path, dst: Path, mode: str | None = None, quality: dict | None = None,
          config: dict | None = None) -> None:
    """src -> dst without optimiser state; mode, quality, config (the run's resolved config): stored beside."""
    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    keep = {k: ckpt[k] for k in ("state_dict", "hyper_parameters", "pytorch-lightning_version", "epoch", "global_step",
                                 "config") if k in ckpt}
    if config is not None:
        keep["config"] = config  # what trained it (config_resolved.yaml): the main job's composition is tested on it
    if mode is not None:
        keep["hyper_parameters"]["inference_mode"] = mode  # the experiment's frozen mode, read by predict
    if quality is not None:
        keep["quality"] = quality  # the QC score and threshold chosen on validation for these models, read by predict
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(keep, dst)


def qc_choice(path: Path, note: str = "") -> dict:
    """{score, threshold, chosen_on, note} of the file written by ``scripts/collect.py qc`` (e.g.
    results/archive/qc_threshold.json); note: what the card should say of it (e.g. which checkpoints it was chosen with)."""
    choice = json.loads(path.read_text())
    return {"score": choice["score"], "threshold": float(choice["threshold"]),
            "chosen_on": f"{path.as_posix()} (validation: {choice.get('validation', 'unknown')})", "note": note}


def store_qc(models: Path, path: Path, note: str = "") -> None:
    """Store the QC choice of `path` in every shipped checkpoint (weights and hyper-parameters unchanged)."""
    for name in CARDS:
        ckpt = models / f"{name}.ckpt"
        strip(ckpt, ckpt, quality=qc_choice(path, note))
        print(f"stored the QC threshold of {path} in {ckpt}")


def card(name: str, run: Path, headline: list[dict], source: Path, mode: str | None = None, entry: str = "") -> str:
    title, alias, data = CARDS[name]  # alias: a shorter command, named only where it composes the same training
    if alias and not same_training(alias, yaml.safe_load((run / "config_resolved.yaml").read_text())):
        alias = ""
    metrics = json.loads((run / "metrics.json").read_text())
    prep = preprocess(run / metrics["checkpoint"])
    experiment = metrics.get("experiment") or name
    negatives = metrics.get("choices", {}).get("negatives", "none")
    lines = [f"# {title}", "", f"`models/{name}.ckpt`: the seed-0 run of the frozen experiment "
             f"(`python run.py experiment={experiment} seed=0`{f', the same training as `{alias}`' if alias else ''}, commit "
             f"{metrics.get('commit', 'unknown')}); inference: `{mode or metrics.get('inference_mode', 'as stored in the checkpoint')}`"
             f" (results/protocol.md{f', entry {entry}' if entry else ''}).", "",
             f"- Config: `{run_config(run)}`; batch {metrics['batch_size']} crops of {prep['size'][0]} x {prep['size'][1]} px "
             f"from whole slices at {prep['spacing_mm']:g} mm, 2D U-Net depth 4 / base 16 / instance norm, Dice + CE, "
             f"AdamW 2e-3.",
             f"- Data: {data}", f"- Selected checkpoint: `{metrics['checkpoint']}` by `{metrics['monitor']}` "
             f"= {metrics['best_val_of_monitor']:.4f}; real validation Dice (whole slices) "
             f"{metrics['validation']['val_real/dice_mean']:.4f}.",
             f"- Negatives (training images whose answer is empty, `conf/negatives/{negatives}.yaml`): "
             f"rate {_negatives_rate(run):g}.",
             input_line(prep), volume_rule_line(),
             "- Output: 0 background, 1 vertebra (body + posterior elements, as SPIDER labels it), 2 disc, 3 canal.",
             ""] + headline_table(name, headline, source) + ["", use_line(name), ""]
    return "\n".join(lines)


HEADLINE_INTRO = "Headline results"


def same_training(command: str, config: dict) -> bool:
    """Whether `python run.py OVERRIDES` (command) composes, at the run's seed, what trained a run (its config)."""
    from spine_synthseg.config import compose_config, training_config

    overrides = command.split()[2:] + [f"seed={config['seed']}"]
    return training_config(compose_config(overrides)) == training_config(config)


def _negatives_rate(run: Path) -> float:
    """The share of negatives the run trained with (its resolved config)."""
    config = yaml.safe_load((run / "config_resolved.yaml").read_text())
    return float(config["data"].get("negatives", {}).get("rate", 0.0))


def volume_rule_line() -> str:
    """The card's line on the volume rule predict applies to whole volumes (conf/config.yaml's default)."""
    from spine_synthseg.apps.predict import _predict_defaults

    rule = _predict_defaults()["volume_rule"]
    return (f"- Whole volumes: predict applies the volume rule `{rule}` (`conf/volume_rule/{rule}.yaml`, chosen on "
            "validation: results/archive/volume_rule/choice.json) and writes what it removed per slice; "
            "`--volume-rule none` turns it off.")


def preprocess(ckpt: Path) -> dict:
    """The preprocessing a checkpoint was trained with (its working spacing in mm, crop size in px, percentiles)."""
    return torch.load(ckpt, map_location="cpu", weights_only=False)["hyper_parameters"]["preprocess"]


def input_line(prep: dict) -> str:
    return ("- Input: any sagittal slice or volume: PNG slices with their pixel spacing, a .mha / .nii(.gz) / .nrrd "
            f"volume or a DICOM series folder; resampled to {prep['spacing_mm']:g} mm inside.")


def quality_line(ckpt: Path) -> str:
    """The card's line on the QC threshold stored in the checkpoint (``--qc-threshold``)."""
    q = torch.load(ckpt, map_location="cpu", weights_only=False).get("quality")
    if not q:
        return "- Quality flag: no threshold stored; predict writes the score and flags nothing unless given one."
    return (f"- Quality flag: `{q['score']}` agreement below {q['threshold']:.4f} flags a slice for checking; chosen on "
            f"{q['chosen_on']}" + (f"; {q['note']}" if q.get("note") else "") + ".")


def use_line(name: str) -> str:
    return (f"Use: `spine-synthseg-predict models/{name}.ckpt INPUT OUTPUT` (after `pip install -e .`; or "
            f"`python -m spine_synthseg.predict ...`); a per-slice quality score and check flag are written beside the output.")


def headline_table(name: str, headline: list[dict], source: Path) -> list[str]:
    """The card's lines on the headline tests: mean over seeds, two-level 95 % CI, seed SD (`source`)."""
    rows = [r for r in headline if r["model"] == name]
    catalog = families.catalog_of()
    lines = [f"{HEADLINE_INTRO} (mean over the seeds of this configuration, 95 % CI over patients and seeds, "
             f"seed SD; `{source}`; volumes: the rule on):", "", "| test | metric | seeds | mean [95% CI] | seed SD |",
             "|---|---|---|---|---|"]
    return lines + [f"| {family_label(catalog, r['test'], [r])} | {r['metric']} | {r['n_seeds']} | {float(r['mean']):.3f} [{float(r['ci_low']):.3f}, "
                    f"{float(r['ci_high']):.3f}] | {float(r['seed_sd']):.3f} |" for r in rows]


def refresh_cards(results: Path, models: Path) -> None:
    """Replace each card's headline table (from its HEADLINE_INTRO line to the line before "Use:")."""
    headline = list(csv.DictReader(open(results / "headline.csv")))
    for name in CARDS:
        lines = (models / f"{name}.md").read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(HEADLINE_INTRO))
        end = next(i for i, line in enumerate(lines) if line.startswith("Use:"))
        lines[start:end - 1] = headline_table(name, headline, results / "headline.csv")
        lines = [line for line in lines if not line.startswith(("- Quality flag:", "- Whole volumes:"))]
        lines = [input_line(preprocess(models / f"{name}.ckpt")) if line.startswith("- Input:") else use_line(name) if line.startswith("Use:") else line
                 for line in lines]
        at = next(i for i, line in enumerate(lines) if line.startswith("- Input:")) + 1
        lines[at:at] = [volume_rule_line(), quality_line(models / f"{name}.ckpt")]
        (models / f"{name}.md").write_text("\n".join(lines) + "\n")
        print(f"refreshed {models / name}.md")


def ship(runs: Path, results: Path, out: Path, mode: str | None = None, qc: Path | None = None,
         entry: str = "") -> None:
    """RUNS/<name>_seed0 -> OUT/<name>.ckpt and .md for every model of CARDS, the headline from RESULTS."""
    headline = list(csv.DictReader(open(results / "headline.csv")))
    for name in CARDS:
        run = (runs / f"{name}_seed0").resolve()
        metrics = json.loads((run / "metrics.json").read_text())
        config = yaml.safe_load((run / "config_resolved.yaml").read_text())
        strip(run / metrics["checkpoint"], out / f"{name}.ckpt", mode, qc_choice(qc) if qc else None, config)
        (out / f"{name}.md").write_text(card(name, run, headline, results / "headline.csv", mode, entry))
        print(f"{out / name}.ckpt ({(out / f'{name}.ckpt').stat().st_size / 1e6:.1f} MB)")
    refresh_cards(results, out)  # the quality line, read back from the checkpoints


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="RUNS RESULTS OUT | --cards: RESULTS MODELS | "
                        "--qc-only: MODELS QC_JSON")
    parser.add_argument("--cards", action="store_true")
    parser.add_argument("--qc-only", action="store_true")
    parser.add_argument("--note", default="")
    parser.add_argument("--mode")
    parser.add_argument("--qc-threshold", type=Path)
    parser.add_argument("--entry", default="")
    args = parser.parse_args(argv)
    if len(args.paths) != (2 if args.cards or args.qc_only else 3):
        parser.error(f"{len(args.paths)} paths given; see the usage above.")
    if args.cards:
        refresh_cards(*args.paths)
    elif args.qc_only:
        store_qc(*args.paths, args.note)
    else:
        ship(*args.paths, args.mode, args.qc_threshold, args.entry)


if __name__ == "__main__":
    main()
