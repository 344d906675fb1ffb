"""The whole pipeline in minutes on 2 CPU cores: real label maps -> synthetic images -> Model A (synthetic images
only) and Model B (real images) trained at a tiny budget -> both segment whole real test slices and contrast- and
resolution-perturbed copies of them (home-field: built from the generator's own operators) -> per-structure Dice
side by side, and one figure.

  python example.py                        # with ../shared/data: the SPIDER T2 SPACE patients
  python example.py source=sample          # without it: the 8 shipped slices (4 patients)
  python example.py source=sample budget=smoke --out /tmp/example   # seconds (the test's run)

Any config override of run.py works (e.g. contrast=t2_like). The tiny budget demonstrates the pipeline, not the
result: the experiment's numbers (3 seeds, full budget, every test) are in results/archive/headline.csv and README.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from spine_synthseg.apps.train_evaluate import train_and_evaluate  # noqa: E402
from spine_synthseg.config import PROJECT_ROOT, compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_splits  # noqa: E402
from spine_synthseg.evaluation.evaluate import evaluate_checkpoints  # noqa: E402
from spine_synthseg.evaluation.tables import HOME_FIELD  # noqa: E402
from spine_synthseg.visualisation import label_overlay  # noqa: E402

DEFAULTS = ["budget=example", "evaluation=example"]  # the user's overrides come after these and win


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "outputs" / "example")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. source=sample budget=smoke")
    args = parser.parse_args()
    overrides = [*DEFAULTS, *args.overrides]
    cfg = compose_config(["experiment=model_a", *overrides], output_dir=args.out)

    # 1. label maps of training patients -> synthetic images (the generator sees label maps only)
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    train = slices.of_patients(splits["train"])
    label_map = train.structures[len(train) // 2]
    generator = instantiate(cfg.synth)
    synthetic = [generator.generate_synthetic_mri(label_map, torch.Generator().manual_seed(i)) for i in range(4)]
    print(f"1. {len(synthetic)} synthetic images from a label map of {len(train)} training slices ({cfg.source.root})")

    # 2. Model A (synthetic only) and Model B (real images), same net, loss and budget
    checkpoints = {}
    for name in ("model_a", "model_b"):
        run = compose_config([f"experiment={name}", "evaluate_after_fit=false", *overrides], output_dir=args.out / name)
        metrics = train_and_evaluate(run)
        checkpoints[name] = args.out / name / metrics["checkpoint"]
        print(f"2. {name}: {metrics['max_steps']} steps in {metrics['train_seconds']:.0f} s -> {checkpoints[name]}")

    # 3. both on whole real test slices and on perturbed copies (home-field), scored at the native grid
    summary = evaluate_checkpoints(cfg, checkpoints, args.out / "evaluation")
    dice = {(r["model"], r["test"], r["variant"], r["structure"]): r for r in summary["aggregates"]
            if r["metric"] == "dice"}
    keys = sorted({k[1:] for k in dice}, key=lambda k: (k[0] != "standard", k))
    variants = list(dict.fromkeys(k[:2] for k in keys))
    structures = ("vertebra", "disc", "canal", "mean")
    print(f"3. Dice, Model A | Model B, mean over {summary['aggregates'][0]['n_patients']} test patient(s) "
          f"(tiny budget: a demonstration, not a result; see results/archive/headline.csv)")
    print(f"   {'test / variant':30s}" + "".join(f"{s:>16s}" for s in structures))
    for test, variant in variants:
        cells = [" | ".join(f"{dice[(m, test, variant, s)]['mean']:.3f}" if (m, test, variant, s) in dice else "  n/a"
                            for m in checkpoints) for s in structures]
        print(f"   {test + ' / ' + variant + ('' if test == 'standard' else ' *'):30s}" + "".join(f"{c:>16s}" for c in cells))
    print(f"   * {HOME_FIELD}")
    figure(args.out / "example.png", label_map, synthetic, dice, keys, checkpoints)
    print(f"4. figure: {args.out / 'example.png'}; evaluation tables: {args.out / 'evaluation' / 'summary.md'}")


def figure(path: Path, label_map, synthetic, dice: dict, keys, checkpoints: dict) -> None:
    """Top: the label map and its synthetic images; bottom: mean Dice of both models per test variant."""
    fig = plt.figure(figsize=(13, 6.5))
    top = fig.add_gridspec(2, 5, height_ratios=[1, 1.1])
    ax = fig.add_subplot(top[0, 0])
    ax.imshow(label_overlay(torch.zeros(label_map.shape), label_map).permute(1, 2, 0))
    ax.set_title("label map (input)", fontsize=9)
    for i, image in enumerate(synthetic):
        ax = fig.add_subplot(top[0, i + 1])
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"synthetic, seed {i}", fontsize=9)
    for ax in fig.axes:
        ax.axis("off")
    ax = fig.add_subplot(top[1, :])
    variants = [k[:2] for k in keys if k[2] == "mean"]
    x = np.arange(len(variants))
    for j, name in enumerate(checkpoints):
        r = [dice.get((name, t, v, "mean")) for t, v in variants]
        ax.bar(x + (j - 0.5) * 0.38, [c["mean"] if c else np.nan for c in r], 0.38, label=name, color=f"C{j}",
               yerr=[[c["mean"] - c["ci_low"] if c else 0 for c in r], [c["ci_high"] - c["mean"] if c else 0 for c in r]])
    ax.set_xticks(x, [f"{v}\n({'real' if t == 'standard' else 'home-field'})" for t, v in variants], fontsize=8)
    ax.set_ylabel("mean Dice (vertebra, disc, canal)")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.set_title("tiny budget: demonstrates the pipeline, not the result (results/archive/headline.csv)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    main()
