"""SynthSeg-style synthesis of spine MRI from label maps: one small stage per file, composed in generator.py."""

from spine_synthseg.synthesis.generator import SpineSynthGenerator

__all__ = ["SpineSynthGenerator"]
