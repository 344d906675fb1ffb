"""A PNG gallery: a real label map and its real image next to synthetic images of the configured generator
(``mode=generate contrast=t2_like`` shows that generator), of the contrast and artifact presets of conf/, of the
anatomy beside the spine (spine-free map, column ghost, partial column), and one synthetic image at 1.5 (native),
2, 3, 4 mm isotropic and 6 mm thick-slice."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from spine_synthseg.config import to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_splits  # noqa: E402
from spine_synthseg.data.datasets import stack_label_maps  # noqa: E402
from spine_synthseg.evaluation.perturbations import resolution_degradation  # noqa: E402
from spine_synthseg.synthesis.generator import SpineSynthGenerator  # noqa: E402
from spine_synthseg.visualisation import label_overlay  # noqa: E402

log = logging.getLogger(__name__)

CLEAN = ["artifact=none", "resolution=native"]
# (title, Hydra overrides of the generator presets in conf/) for each preset panel, drawn with its own seed
PANELS = [(f"{name} (seed {i})", [f"contrast={preset}", *CLEAN])
          for name, preset in (("T1-like", "t1_like"), ("T2-like", "t2_like"), ("full spectrum", "full_spectrum"))
          for i in range(2)]
PANELS += [("T2-like + bias", ["contrast=t2_like", *CLEAN, "synth.bias.max_std=0.8"]),
           ("T2-like + Rician noise", ["contrast=t2_like", *CLEAN, "synth.noise.max_std=0.1", "synth.noise.rician_prob=1.0"]),
           ("T2-like + motion", ["contrast=t2_like", *CLEAN, "synth.motion.prob=1.0", "synth.motion.max_shift_mm=8.0"]),
           ("T2-like, all artifacts", ["contrast=t2_like", "artifact=all", "resolution=native", "synth.motion.prob=1.0"])]
PANELS += [(f"beside the spine: {title} (target empty)" if kind != "partial" else f"beside the spine: {title}",
            ["contrast=t2_like", *CLEAN, f"synth.absence.{kind}_prob=1.0"])  # synthesis/absence.py
           for title, kind in (("spine-free map", "free"), ("column ghost", "ghost"), ("partial column", "partial"))]


RESOLUTIONS = ((2.0, False), (3.0, False), (4.0, False), (6.0, True))


def make_gallery(labels: dict[str, torch.Tensor], real_image: torch.Tensor, configured: SpineSynthGenerator,
                 path: Path, seed: int = 0, overrides: list[str] = ()) -> Path:
    """Write the gallery PNG for one label map (a batch of 1 from stack_label_maps) and its real image: three
    images of the `configured` generator, the preset panels (PANELS, composed from conf/ with `overrides`, e.g. the
    working spacing, under each panel's own), and one T2-like image at coarser acquisition spacings."""
    spacing_mm = configured.spacing_mm
    images = [(f"configured generator (seed {seed + i})",
               configured.generate_batch(labels, torch.Generator().manual_seed(seed + i)).image[0, 0]) for i in range(3)]
    for i, (title, panel) in enumerate(PANELS):
        gen = SpineSynthGenerator.from_presets([*overrides, *panel])
        images.append((title, gen.generate_batch(labels, torch.Generator().manual_seed(seed + i)).image[0, 0]))
    # one T2-like image, then the same image acquired at coarser spacings (same operator as the evaluation)
    native = images[5][1][None, None]
    images.append((f"T2-like (seed 0) at {spacing_mm:g} mm", native[0, 0]))
    for mm, thick in RESOLUTIONS:
        degraded = resolution_degradation(native, mm, spacing_mm, thick_slice=thick)[0, 0]
        images.append((f"same, {mm:g} mm {'thick (SI)' if thick else 'iso'}", degraded))
    cols = 6
    rows = 1 + (len(images) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.9 * rows))
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(real_image, cmap="gray")
    axes[0, 0].set_title("real T2 SPACE image", fontsize=8)
    axes[0, 1].imshow(label_overlay(torch.zeros_like(real_image), labels["structures"][0]).permute(1, 2, 0))
    axes[0, 1].set_title("its label map (input)", fontsize=8)
    axes[0, 2].imshow(label_overlay(real_image, labels["structures"][0]).permute(1, 2, 0))
    axes[0, 2].set_title("overlay", fontsize=8)
    for ax, (title, img) in zip(axes.flat[cols:], images):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
    fig.suptitle("SpineSynthGenerator: one real label map -> random synthetic MRIs (real image shown for reference only)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def preset_overrides(cfg: DictConfig) -> list[str]:
    """The overrides that keep the preset panels on the run's working grid and spatial stage."""
    spatial = [f"synth.spatial.{k}={v}" for k, v in to_dict(cfg.synth.spatial).items() if k not in ("_target_", "spacing_mm")]
    return [f"preprocess.spacing_mm={cfg.preprocess.spacing_mm}", *spatial]


def gallery_from_config(cfg: DictConfig, index: int = 0) -> Path:
    """mode=generate: gallery of a training patient's label map into the run folder."""
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    train = slices.of_patients(splits["train"])
    i = len(train) // 2 + index
    path = make_gallery(stack_label_maps(train, [i]), train.image[i], instantiate(cfg.synth),
                        Path(cfg.paths.output_dir) / "gallery.png", int(cfg.seed), preset_overrides(cfg))
    log.info("gallery written to %s", path)
    return path
