"""Evaluation: metrics, perturbations, the robustness suite, reports, plots and overlays."""
