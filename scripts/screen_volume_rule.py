"""Screen the volume rules on validation data only and write results/archive/volume_rule/ (evaluation/rule_screen.py):
volume_rows.csv, per_patient.csv, paired.csv (every candidate - no rule, per model), choice.json, summary.md, and
the before / after figure of the chosen rule (or, when none is adopted, of the candidate that removes the most false
spine); rows.csv (every image row, large) stays in --out only when --out is not results/.

  python scripts/screen_volume_rule.py [--out results/archive/volume_rule] [--models models] [OVERRIDES ...]
  python scripts/screen_volume_rule.py --render      # summary.md again from the committed paired.csv and choice.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from spine_synthseg.config import PROJECT_ROOT, compose_config
import json

from spine_synthseg.evaluation.collect import read_csv
from spine_synthseg.evaluation.rule_screen import run_screen, summary_md
from spine_synthseg.evaluation.volume_report import rule_figure
from spine_synthseg.models.volume_rule import load_rule

TESTS = "evaluation.tests=[validation,shift_validation,shift_validation_volumes]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "archive" / "volume_rule")
    parser.add_argument("--models", type=Path, default=PROJECT_ROOT / "models")
    parser.add_argument("--render", action="store_true", help="only re-render summary.md from --out")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. evaluation.max_patients=2")
    args = parser.parse_args()
    cfg = compose_config(["+rule_screen=default", TESTS, *args.overrides])
    if args.render:
        choice = json.loads((args.out / "choice.json").read_text())
        (args.out / "summary.md").write_text(summary_md(read_csv(args.out / "paired.csv"), choice, dict(cfg.catalog),
                                                        read_csv(args.out / "per_patient.csv")))
        return
    checkpoints = {name: args.models / f"{name}.ckpt" for name in cfg.catalog.models}
    rules = {name: load_rule(name) for name in cfg.rule_screen.candidates}
    kept: dict = {}
    choice = run_screen(cfg, checkpoints, rules, args.out, kept)
    shown = choice["chosen"] if choice["chosen"] != "none" else min(
        choice["candidates"], key=lambda r: choice["candidates"][r]["false_spine_ml_change_mean"])
    rule_figure(kept, rules[shown], args.out / "before_after.png", dict(cfg.catalog.models))
    if args.out.resolve().is_relative_to((PROJECT_ROOT / "results").resolve()):
        (args.out / "rows.csv").unlink()  # every image row: 3 MB, not committed (volume_rows.csv and per_patient.csv are)
    print(f"chosen: {choice['chosen']}; figure of {shown}: {args.out / 'before_after.png'}")


if __name__ == "__main__":
    main()
