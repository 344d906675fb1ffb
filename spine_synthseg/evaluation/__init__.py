"""Evaluation: test cases, perturbations, metrics, aggregation (CIs, paired differences), tables, figures, the suite."""
