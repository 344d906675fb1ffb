"""The shipped sample (no ../shared/data needed): it reads, and a smoke training run works on it."""

import json

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.data.png_folder import read_png_folder
from spine_synthseg.training.train import train
from tests.helpers import compose_cfg

SAMPLE = PROJECT_ROOT / "spine_synthseg" / "sample_data" / "spider_t2space_sample"


def test_sample_is_small_attributed_and_complete():
    meta = json.loads((SAMPLE / "dataset.json").read_text())
    assert "CC-BY-4.0" in meta["license"] and "van der Graaf" in meta["attribution"]
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 2_000_000
    records, report = read_png_folder(SAMPLE, "t2_SPACE")
    assert sorted(f"{r.name}.png" for r in records) == sorted(meta["files"]) and report["skipped_empty"] == []


def test_smoke_training_on_the_sample(tmp_path):
    metrics = train(compose_cfg(tmp_path, ["source=sample", "experiment=model_a", "evaluate_after_fit=false"]))
    assert (tmp_path / metrics["checkpoint"]).is_file() and "val_real/dice_mean" in metrics["validation"]
