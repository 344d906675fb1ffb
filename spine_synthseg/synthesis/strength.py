"""One scalar for the width of domain randomisation: synth.strength s in [0, 1].

s = 0: narrow, realistic T2-like priors, mild bias/noise, no motion, native resolution.
s = 1: SynthSeg-wide: uniform intensity priors (any tissue ordering), strong artifacts, 1-4 mm isotropic
and up to 8 mm thick-slice resolution. In between every range is linearly interpolated:
  contrast.uniform_mix = [s, s] (T2-like ranges widened towards [0, 1]), std_range = [0.005, 0.03 + 0.07 s],
  instance_spread = 0.02 + 0.13 s; intensity.gamma_std = 0.1 + 0.3 s;
  artifact: bias_std = 0.15 + 0.45 s, noise_std = 0.01 + 0.07 s, motion_prob = 0.4 s;
  resolution: prob = 0.9 s, max_iso_mm = w + s (4 - w), max_aniso_mm = w + s (8 - w).
Spatial deformation and the background mode are left as configured. strength null leaves the presets alone.
"""

from __future__ import annotations

from typing import Any

from spine_synthseg.synthesis.sampling import check_range


def apply_strength(cfg: dict[str, Any]) -> dict[str, Any]:
    """Return cfg with the contrast / intensity / artifact / resolution groups set from cfg["strength"]."""
    s = cfg.get("strength")
    if s is None:
        return cfg
    s = check_range("synth.strength", s, 0, 1)
    w = float(cfg.get("spacing_mm", 1.5))
    out = dict(cfg)
    out["contrast"] = {**dict(cfg.get("contrast") or {}), "t2_weight": [1.0, 1.0], "uniform_mix": [s, s],
                       "std_range": [0.005, 0.03 + 0.07 * s], "instance_spread": 0.02 + 0.13 * s}
    out["intensity"] = {"gamma_std": 0.1 + 0.3 * s}
    out["artifact"] = {**dict(cfg.get("artifact") or {}), "bias_std": 0.15 + 0.45 * s, "noise_std": 0.01 + 0.07 * s,
                       "motion_prob": 0.4 * s}
    out["resolution"] = {**dict(cfg.get("resolution") or {}), "prob": 0.9 * s, "max_iso_mm": w + s * (4 - w),
                         "max_aniso_mm": w + s * (8 - w)}
    return out
