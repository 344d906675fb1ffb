"""The catalogue (conf/catalog/default.yaml): one entry adds a family to the evaluation, the long table and the
rendered tables; names, the inference mode and the QC threshold each have one source."""

import json
import re

import pytest
import torch

from spine_synthseg.config import CONFIG_DIR, PROJECT_ROOT
from spine_synthseg.data import families
from spine_synthseg.errors import ConfigError
from spine_synthseg.evaluation import collect as c
from spine_synthseg.evaluation import report_tables as rt
from spine_synthseg.evaluation.evaluate import evaluate_checkpoints
from tests.conftest import write_png_folder
from tests.helpers import compose_cfg

CODE = [p for folder in ("spine_synthseg", "scripts") for p in (PROJECT_ROOT / folder).rglob("*.py")] + \
       [PROJECT_ROOT / "run.py", PROJECT_ROOT / "example.py"] + list((PROJECT_ROOT / "scripts").glob("*.sh"))


def toy_family(tmp_path):
    """A toy folder of 3 patients (generated slices) whose dataset.json lists 2 test subjects, and its one entry."""
    root = write_png_folder(tmp_path / "toy", n_patients=3, slices=2)
    meta = json.loads((root / "dataset.json").read_text())
    (root / "dataset.json").write_text(json.dumps({**meta, "test_subjects": ["100", "102"]}))
    entry = (f"+catalog.families.toy={{test: toy, variant: toy_t2, role: test, source: {{root: {root}, "
             f"format: png_folder, sequence: toy}}, subjects: {{dataset_key: test_subjects}}, scoring: structures, "
             f"structure: mean, metric: dice, display: Toy slices, unit: patients}}")
    return root, entry


def test_a_toy_family_is_one_catalogue_entry(tmp_path, smoke_runs):
    root, entry = toy_family(tmp_path)
    cfg = compose_cfg(tmp_path / "run", [entry, "evaluation.tests=[toy]", "evaluation.max_patients=null"])
    summary = evaluate_checkpoints(cfg, {"model_a": smoke_runs["model_a"]["ckpt"]}, tmp_path / "eval")
    long = c.evaluation_long(tmp_path / "eval")
    assert {r["patient"] for r in long if r["test"] == "toy"} == {"100", "102"}  # the subjects its dataset.json lists
    catalog = families.catalog_of(cfg)
    keys = families.headline_keys(catalog)
    assert keys["toy"] == ("toy", "toy_t2", "mean", "dice")
    tables = c.experiment_tables(long, 50, 0.95, 0, keys, list(families.models(catalog)))
    (row,) = [r for r in tables["headline"] if r["test"] == "toy"]
    assert row["n_patients"] == len(json.loads((root / "dataset.json").read_text())["test_subjects"])
    table = rt.headline_table(tables["headline"], catalog, {"families": ["toy"], "models": ["model_a"]})
    assert "| Toy slices (2 patients, descriptive) | dice_mean | " in table
    assert any(a["test"] == "toy" for a in summary["aggregates"])
    assert "## toy (real images)" in (tmp_path / "eval" / "summary.md").read_text()


def test_a_bad_entry_is_one_clear_error(tmp_path):
    catalog = families.catalog_of(compose_cfg(tmp_path))
    bad = {**catalog, "families": {"x": {**catalog["families"]["space_test"], "role": "training"}}}
    with pytest.raises(ConfigError, match="catalog.families.x.*role"):
        families.families(bad)
    with pytest.raises(ConfigError, match="unknown tests"):
        families.of_tests(catalog, ["standard", "nonsense"])


def test_every_family_holds_the_subjects_its_data_lists(tmp_path, data_root):
    cfg = compose_cfg(tmp_path, ["evaluation.max_patients=null"])
    catalog = families.families(families.catalog_of(cfg))
    meta = json.loads((data_root / "external_dixon" / "dataset.json").read_text())
    loaded = {}
    assert {r.patient_id for r in families.records(catalog["external_dixon"], loaded=loaded)} == set(meta["test_subjects"])
    t1 = families.records(catalog["external_t1_like"], loaded=loaded)
    assert t1 and all(r.tags["appearance"] == "t1_like" for r in t1)


def test_names_and_the_inference_mode_have_one_source():
    """Each family's display name and the model names stand in the catalogue only; the configured inference mode
    stands, as a default, in conf/config.yaml only (models/inference.py names every mode, as the list of modes)."""
    catalog = families.catalog_of()
    names = [f.display for f in families.families(catalog).values()] + \
            [m["display"] for m in families.models(catalog).values()]
    for path in CODE:
        text = path.read_text()
        for name in names:
            assert f'"{name}' not in text and f"'{name}" not in text, f"{path} types the name {name!r}"
    mode = re.search(r"^inference_mode: (\w+)", (CONFIG_DIR / "config.yaml").read_text(), re.M).group(1)
    for path in CODE:
        if path.name != "inference.py":
            assert not re.search(rf"[\"']{mode}[\"']", path.read_text()), f"{path} types the inference mode {mode}"


def test_the_shipped_qc_threshold_is_the_chosen_one():
    chosen = json.loads((PROJECT_ROOT / "results" / "volume_freeze" / "qc_threshold.json").read_text())
    for name in families.models(families.catalog_of()):
        saved = torch.load(PROJECT_ROOT / "models" / f"{name}.ckpt", map_location="cpu", weights_only=False)
        assert saved["quality"]["threshold"] == chosen["threshold"] and saved["quality"]["score"] == chosen["score"]
    assert not re.search(r"quality_threshold: \d", (CONFIG_DIR / "config.yaml").read_text())  # no copied number
