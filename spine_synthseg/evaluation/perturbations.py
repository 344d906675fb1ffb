"""Deterministic image perturbations for the robustness tests; labels are never changed.

Contrast perturbations of real anatomy (a perturbation test, not real other sequences):
  gamma_<g>: x ** g; inversion: 1 - x; piecewise_shuffle: [0, 1] cut into 4 intensity bins whose order is
  permuted (fixed permutation), linear inside each bin: a non-monotone remapping.
Resolution degradations: iso_<s>mm (both axes at s mm) and thick_<s>mm (s mm along the rows, i.e.
superior-inferior, as a reformatted thick-slice axial stack), with the generator's blur/down/up operator.
"""

from __future__ import annotations

import torch

from spine_synthseg.synthesis.resolution import degrade_resolution

SHUFFLE_ORDER = (2, 0, 3, 1)


def contrast_perturbation(image: torch.Tensor, name: str) -> torch.Tensor:
    """Apply a named contrast perturbation to images in [0, 1]."""
    x = image.clamp(0, 1)
    if name.startswith("gamma_"):
        return x ** float(name.split("_", 1)[1])
    if name == "inversion":
        return 1 - x
    if name == "piecewise_shuffle":
        k = len(SHUFFLE_ORDER)
        bins = (x * k).floor().clamp(max=k - 1)
        frac = x * k - bins
        target = torch.tensor(SHUFFLE_ORDER, dtype=x.dtype, device=x.device)[bins.long()]
        return (target + frac) / k
    raise ValueError(f"Unknown contrast perturbation {name!r}; use gamma_<g>, inversion or piecewise_shuffle.")


def resolution_degradation(image: torch.Tensor, spacing_mm: float, working_mm: float, thick_slice: bool) -> torch.Tensor:
    """Degrade (B, 1, H, W) images acquired at `working_mm` to `spacing_mm` (isotropic, or rows only)."""
    if spacing_mm < working_mm:
        raise ValueError(f"Degradation to {spacing_mm} mm is finer than the working spacing {working_mm} mm.")
    cols = working_mm if thick_slice else spacing_mm
    spacing = torch.tensor([[spacing_mm, cols]], dtype=image.dtype, device=image.device).expand(image.shape[0], 2)
    return degrade_resolution(image, spacing, working_mm)
