"""A PNG gallery: a real label map and its real image next to synthetic images across contrast presets,
artifacts on/off, and one synthetic image at 1.5 (native), 2, 3, 4 mm isotropic and 6 mm thick-slice."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from spine_synthseg.config import to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_splits  # noqa: E402
from spine_synthseg.data.datasets import stack_label_maps  # noqa: E402
from spine_synthseg.evaluation.perturbations import resolution_degradation  # noqa: E402
from spine_synthseg.synthesis.generator import SpineSynthGenerator  # noqa: E402
from spine_synthseg.visualisation import label_overlay  # noqa: E402

log = logging.getLogger(__name__)

NO_BIAS, NO_NOISE, NO_MOTION = {"bias": {"max_std": 0.0}}, {"noise": {"max_std": 0.0}}, {"motion": {"prob": 0.0}}
NO_ARTIFACTS = {**NO_BIAS, **NO_NOISE, **NO_MOTION}
NATIVE = {"prob": 0.0}
T1 = {"t2_weight": [0.0, 0.0], "uniform_mix": [0.0, 0.0]}
T2 = {"t2_weight": [1.0, 1.0], "uniform_mix": [0.0, 0.0]}
FULL = {"t2_weight": [0.0, 1.0], "uniform_mix": [1.0, 1.0]}


def gallery_panels() -> list[tuple[str, dict]]:
    """(title, generator overrides) for each synthetic panel drawn with its own seed."""
    clean = {**NO_ARTIFACTS, "resolution": NATIVE}
    panels = [(f"{name} (seed {i})", {"contrast": prior, **clean})
              for name, prior in (("T1-like", T1), ("T2-like", T2), ("full spectrum", FULL)) for i in range(2)]
    panels += [("T2-like + bias", {**clean, "contrast": T2, "bias": {"max_std": 0.8}}),
               ("T2-like + Rician noise", {**clean, "contrast": T2, "noise": {"max_std": 0.1, "rician_prob": 1.0}}),
               ("T2-like + motion", {**clean, "contrast": T2, "motion": {"prob": 1.0, "max_shift_mm": 8.0}}),
               ("T2-like, all artifacts", {"contrast": T2, "bias": {"max_std": 0.5}, "noise": {"max_std": 0.05},
                                           "motion": {"prob": 1.0}, "resolution": NATIVE})]
    return panels


RESOLUTIONS = ((2.0, False), (3.0, False), (4.0, False), (6.0, True))


def make_gallery(labels: dict[str, torch.Tensor], real_image: torch.Tensor, spacing_mm: float, spatial: dict,
                 path: Path, seed: int = 0) -> Path:
    """Write the gallery PNG for one label map (a batch of 1 from stack_label_maps) and its real image."""
    images = []
    for i, (title, overrides) in enumerate(gallery_panels()):
        gen = SpineSynthGenerator.from_config({"spatial": spatial, **overrides}, spacing_mm=spacing_mm)
        images.append((title, gen.generate_batch(labels, torch.Generator().manual_seed(seed + i)).image[0, 0]))
    # one T2-like image, then the same image acquired at coarser spacings (same operator as the evaluation)
    native = images[2][1][None, None]
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


def gallery_from_config(cfg: DictConfig, index: int = 0) -> Path:
    """mode=generate: gallery of a training patient's label map into the run folder."""
    slices, splits = load_splits(to_dict(cfg.source), to_dict(cfg.preprocess), to_dict(cfg.split), cfg.paths.cache_dir)
    train = slices.of_patients(splits["train"])
    i = len(train) // 2 + index
    path = make_gallery(stack_label_maps(train, [i]), train.image[i], float(cfg.preprocess.spacing_mm),
                        to_dict(cfg.synth.spatial), Path(cfg.paths.output_dir) / "gallery.png", int(cfg.seed))
    log.info("gallery written to %s", path)
    return path
