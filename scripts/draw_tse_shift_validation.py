"""Draw the shift-validation third of the T2 TSE series once (stratified by mid-sagittal slices) and write it to
results/archive/realism/tse_shift_validation.json; the list goes into conf/evaluation/default.yaml
(evaluation.tse_shift_validation), where tests/test_evaluation.py checks it against this draw.

  python scripts/draw_tse_shift_validation.py [--seed 2026]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from spine_synthseg.config import PROJECT_ROOT, compose_config, to_dict
from spine_synthseg.data.catalog import load_native
from spine_synthseg.evaluation.cases import draw_shift_validation_series, mid_sagittal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    cfg = compose_config([])
    records = load_native(to_dict(cfg.evaluation.shift_source))
    min_mm2 = float(cfg.evaluation.mid_sagittal_canal_mm2)
    series = draw_shift_validation_series(records, min_mm2, args.seed)
    mid = {r.patient_id for r in mid_sagittal(records, min_mm2)}
    slices = Counter(r.patient_id for r in records)
    mid_slices = Counter(r.patient_id for r in mid_sagittal(records, min_mm2))
    out = {"seed": args.seed, "fraction": "1/3 of each stratum (series with / without a mid-sagittal slice)",
           "series": series, "n_series": len(series), "n_series_total": len(slices),
           "n_mid_series": len(set(series) & mid), "n_mid_series_total": len(mid),
           "n_slices": sum(slices[s] for s in series), "n_slices_total": len(records),
           "n_mid_slices": sum(mid_slices[s] for s in series), "n_mid_slices_total": sum(mid_slices.values())}
    path = PROJECT_ROOT / "results" / "archive" / "realism" / "tse_shift_validation.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
