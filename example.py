"""Minimal example: one real spine label map -> random synthetic MRIs, and the full gallery PNG.

  python example.py                      # writes outputs/example/synthetic.png and outputs/example/gallery.png
  python example.py --out results/gallery.png   # the gallery committed in the README
  python example.py contrast=t2_like     # any config override (the same groups as run.py)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from spine_synthseg.apps.gallery import make_gallery, preset_overrides  # noqa: E402
from spine_synthseg.config import PROJECT_ROOT, compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_splits  # noqa: E402
from spine_synthseg.data.datasets import stack_label_maps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(PROJECT_ROOT / "outputs" / "example" / "gallery.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. source.root=/path/to/pngs")
    args = parser.parse_args()
    cfg = compose_config(["data=synth", *args.overrides])  # the same config run.py composes

    # 1. label maps of training patients at the working grid (preprocess: 1.5 mm, 160 x 128), cached after the first run
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    train = slices.of_patients(splits["train"])
    label_map = train.structures[len(train) // 2]  # (H, W): 0 background, 1 vertebra, 2 disc, 3 canal

    # 2. the generator API: one label map in, one random MRI out; same seed, same image
    generator = instantiate(cfg.synth)  # Model A's generator; see conf/ for the Hydra groups
    images = [generator.generate_synthetic_mri(label_map, torch.Generator().manual_seed(args.seed + i)) for i in range(6)]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 7, figsize=(14, 3.2))
    axes[0].imshow(label_map, cmap="viridis")
    axes[0].set_title("label map")
    for ax, img in zip(axes[1:], images):
        ax.imshow(img, cmap="gray")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(out.with_name("synthetic.png"), dpi=90)

    # 3. the gallery: contrast presets, artifacts on/off, resolutions 1.5-6 mm
    i = len(train) // 2
    make_gallery(stack_label_maps(train, [i]), train.image[i], generator, out, args.seed, preset_overrides(cfg))
    print(f"wrote {out.with_name('synthetic.png')} and {out}")


if __name__ == "__main__":
    main()
