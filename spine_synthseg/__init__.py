"""spine-synthseg: lumbar-spine MRI segmentation trained on synthetic images (SynthSeg-style)."""

from spine_synthseg.structures import STRUCTURES, FOREGROUND

__all__ = ["STRUCTURES", "FOREGROUND"]
