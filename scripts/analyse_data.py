"""Facts about the shared data that the report states (no model involved), written to results/data_facts.json.

  python scripts/analyse_data.py results/data_facts.json

- T2 TSE: slices with a labelled canal; mid-sagittal slices by labelled canal area (evaluation.mid_sagittal_canal_mm2);
  per slice with a canal, the share of vertebra pixels posterior to the canal's anterior edge (posterior elements:
  SPIDER's vertebra label is not the body alone); non-square pixels.
- external_vb: series, patients and slices per appearance and sequence.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from spine_synthseg.config import compose_config, to_dict  # noqa: E402
from spine_synthseg.data.catalog import load_native  # noqa: E402
from spine_synthseg.evaluation.cases import mid_sagittal  # noqa: E402
from spine_synthseg.structures import CANAL, VERTEBRA  # noqa: E402


def posterior_share(structures: np.ndarray) -> float:
    """Share of vertebra pixels in rows with canal that lie behind the canal's anterior edge (columns grow posterior)."""
    rows = np.flatnonzero((structures == CANAL).any(1))
    behind = total = 0
    for r in rows:
        front = np.flatnonzero(structures[r] == CANAL).min()
        vert = np.flatnonzero(structures[r] == VERTEBRA)
        behind += int((vert > front).sum())
        total += len(vert)
    return behind / total if total else float("nan")


def main(out: Path) -> None:
    cfg = compose_config([])
    ev = cfg.evaluation
    tse = load_native(to_dict(ev.shift_source))
    with_canal = [r for r in tse if r.annotated[CANAL - 1]]
    mid = mid_sagittal(tse, float(ev.mid_sagittal_canal_mm2))
    shares = {r.name: round(posterior_share(r.structures), 4) for r in with_canal}
    finite = [v for v in shares.values() if v == v]
    external = load_native(to_dict(ev.external_source))
    facts = {
        "tse": {"slices": len(tse), "series": len({r.series for r in tse}), "with_canal_label": len(with_canal),
                "mid_sagittal_canal_mm2": float(ev.mid_sagittal_canal_mm2), "mid_sagittal": len(mid),
                "mid_sagittal_names": [r.name for r in mid],
                "non_square_pixels": sum(r.spacing_mm[0] != r.spacing_mm[1] for r in tse),
                "vertebra_share_behind_canal_front": {"min": min(finite), "median": float(np.median(finite)),
                                                      "max": max(finite), "per_slice": shares}},
        "external": {"slices": len(external), "series": len({r.series for r in external}),
                     "patients": len({r.patient_id for r in external}),
                     "by_appearance": {a: {"slices": sum(r.tags["appearance"] == a for r in external),
                                           "series": len({r.series for r in external if r.tags["appearance"] == a}),
                                           "patients": len({r.patient_id for r in external if r.tags["appearance"] == a})}
                                       for a in ("t1_like", "t2_like")},
                     "series_by_sequence": dict(Counter(r.tags["sequence"] for r in {r.series: r for r in external}.values()))},
    }
    out.write_text(json.dumps(facts, indent=2))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("per_slice", "mid_sagittal_names")} for k, v in facts.items()}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
