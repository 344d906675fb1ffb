"""Gallery of the realism screen: real training slices beside synthetic images of every generator variant
(conf/experiment/realism/*.yaml) made from the same label maps -> results/realism/gallery.png.

  python scripts/realism_gallery.py [--slices 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from spine_synthseg.config import compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_splits  # noqa: E402
from spine_synthseg.data.datasets import stack_label_maps  # noqa: E402
from spine_synthseg.synthesis.generator import LABEL_KEYS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    variants = sorted(p.stem for p in (ROOT / "conf" / "experiment" / "realism").glob("*.yaml"))
    variants = ["baseline"] + [v for v in variants if v != "baseline"]
    cfg = compose_config(["experiment=realism/tissue"])  # label maps with the tissue classes (preprocess.n_tissue)
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    train = slices.of_patients(splits["train"])
    idx = [int(i) for i in torch.linspace(len(train) * 0.2, len(train) * 0.8, args.slices).round()]
    labels = {k: v for k, v in stack_label_maps(train, idx).items() if k in LABEL_KEYS}
    fig, axes = plt.subplots(len(idx), len(variants) + 1, figsize=(1.9 * (len(variants) + 1), 2.5 * len(idx)))
    for r, i in enumerate(idx):
        h, w = (int(v) for v in train.shapes[i])
        axes[r, 0].imshow(train.image[i][:h, :w], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_title(f"real ({train.patient_ids[i]})", fontsize=8)
    for c, v in enumerate(variants, start=1):
        generator = instantiate(compose_config([f"experiment=realism/{v}"]).synth)
        out = generator.generate_batch(labels, torch.Generator().manual_seed(args.seed)).image
        for r, i in enumerate(idx):
            h, w = (int(x) for x in train.shapes[i])
            axes[r, c].imshow(out[r, 0, :h, :w], cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_title(v, fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("Realism screen: each generator variant from the same training label maps (real slice on the left, "
                 f"for reference only; seed {args.seed})", fontsize=9)
    fig.tight_layout()
    path = ROOT / "results" / "realism" / "gallery.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    print(f"written {path}")


if __name__ == "__main__":
    main()
