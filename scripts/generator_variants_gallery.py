"""Lever 1's gallery: synthetic images of each screened generator variant beside the real slices of the same label
maps (training patients), so a reader can judge realism by eye.

  python scripts/generator_variants_gallery.py [OUT_PNG]   (default results/archive/reality_gap/generator_variants.png)
  python scripts/generator_variants_gallery.py results/archive/realism/gallery.png realism
                      # every conf/experiment/realism/*.yaml (the realism screen; label maps with tissue classes)

Rows: the real T2 SPACE slice, then one synthetic image per variant (the frozen default, and the one-change
variants of conf/experiment/screen/), from the same label map and the same random seed per column; a
variant that draws more random numbers (the sub-region stage) also changes the draws of the stages after it, so
rows differ in more than the variant itself. Synthetic images are shown as the network sees them (the config's
normalisation). Whole slices on the preprocessing canvas (1.5 mm); nothing here is a result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from spine_synthseg.config import compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_splits  # noqa: E402
from spine_synthseg.data.datasets import stack_label_maps  # noqa: E402

VARIANTS = {
    "default (frozen)": [],
    "min-max output (before)": ["synth.output_percentiles=null"],
    "subregions=anatomy": ["subregions=anatomy"],
    "subregions mild": ["subregions=anatomy", "synth.subregions.prob=0.5", "synth.subregions.texture_std=0.05",
                        "synth.subregions.vertebra_rim_factor=[0.6,0.95]"],
    "subregions=real_clusters": ["subregions=real_clusters"],
    "background n_random=8": ["synth.background.n_random=8"],
}
COLUMNS = 4


def experiment_variants(folder: str) -> dict[str, list[str]]:
    """{name: overrides} of every experiment file in conf/experiment/FOLDER/, the baseline first."""
    names = sorted(p.stem for p in (ROOT / "conf" / "experiment" / folder).glob("*.yaml"))
    return {n: [f"experiment={folder}/{n}"] for n in sorted(names, key=lambda n: n != "baseline")}


def main(out: Path, folder: str | None = None, overrides: tuple[str, ...] = ()) -> None:
    """out: the PNG; folder: conf/experiment/FOLDER's variants (default: the reality-gap VARIANTS); overrides: of
    the label maps' source, e.g. source=sample."""
    variants = experiment_variants(folder) if folder else VARIANTS
    cfg = compose_config(["preprocess.n_tissue=12", *overrides])  # label maps with the tissue classes (background=tissue)
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    train = slices.of_patients(splits["train"])
    picks = [round(k * (len(train) - 1) / (COLUMNS - 1)) for k in range(COLUMNS)]  # spread over the training slices
    labels = stack_label_maps(train, picks)
    rows = [("real T2 SPACE slice", train.image[picks])]
    for name, overrides in variants.items():
        gen = instantiate(compose_config(overrides if folder else ["experiment=model_a", *overrides]).synth)
        images = [gen.generate_batch({k: v[j:j + 1] for k, v in labels.items()},
                                     torch.Generator().manual_seed(j)).image[0, 0] for j in range(COLUMNS)]
        rows.append((name, torch.stack(images)))
    fig, axes = plt.subplots(len(rows), COLUMNS, figsize=(2.2 * COLUMNS, 2.6 * len(rows)))
    for r, (name, images) in enumerate(rows):
        for c in range(COLUMNS):
            h, w = (int(x) for x in train.shapes[picks[c]])
            axes[r, c].imshow(images[c][:h, :w], cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, fontsize=8)
    fig.suptitle(f"Generator variants of the {folder or 'reality-gap'} screen (same label map and seed per column)",
                 fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"written {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "results" / "archive" / "reality_gap" / "generator_variants.png",
         sys.argv[2] if len(sys.argv) > 2 else None)
