import json

import numpy as np
import pytest
from PIL import Image

from spine_synthseg.data.png_folder import read_png_folder
from spine_synthseg.errors import DataError
from spine_synthseg.structures import CANAL, DISC, VERTEBRA


def test_reads_structures_instances_and_patients(png_folder):
    records, report = read_png_folder(png_folder, "t2_SPACE")
    assert report["read"] == 6 and not report["skipped_empty"]
    r = records[0]
    assert r.patient_id == "100" and r.spacing_mm == (1.0, 1.0) and r.sequence == "t2_SPACE"
    assert set(np.unique(r.structures)) == {0, VERTEBRA, DISC, CANAL}
    assert r.instances.max() == 3  # one component per structure
    assert (r.instances[r.structures == 0] == 0).all()


def test_per_level_labels_and_spacing_median(tmp_path, png_folder):
    meta = json.loads((png_folder / "dataset.json").read_text())
    meta.pop("label_values")
    meta["structure_of_value"] = {"vertebra": [76], "intervertebral_disc": [29], "spinal_canal": [150]}
    names = sorted(p.name for p in (png_folder / "images").glob("*.png"))
    meta["pixel_spacing_mm"] = {n: (None if i == 0 else 0.5 + i * 0.1) for i, n in enumerate(names)}
    (png_folder / "dataset.json").write_text(json.dumps(meta))
    records, _ = read_png_folder(png_folder, "t2_SPACE")
    assert records[0].spacing_mm[0] == pytest.approx(np.median([0.5 + i * 0.1 for i in range(1, 6)]))


def rewrite_first_mask(folder, edit):
    """Replace the first mask by edit(mask array); returns its path."""
    mask = sorted((folder / "masks").glob("*.png"))[0]
    Image.fromarray(edit(np.array(Image.open(mask)))).save(mask)
    return mask


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_png_folder(tmp_path / "nope", "t2_SPACE")


def test_missing_dataset_json(png_folder):
    (png_folder / "dataset.json").unlink()
    with pytest.raises(DataError, match="no dataset.json"):
        read_png_folder(png_folder, "t2_SPACE")


def test_unreadable_image_names_file(png_folder):
    bad = sorted((png_folder / "images").glob("*.png"))[1]
    bad.write_bytes(b"not a png")
    with pytest.raises(DataError, match=bad.name):
        read_png_folder(png_folder, "t2_SPACE")


def test_shape_mismatch_names_file(png_folder):
    rewrite_first_mask(png_folder, lambda m: np.zeros((10, 10), np.uint8))
    with pytest.raises(DataError, match="must match"):
        read_png_folder(png_folder, "t2_SPACE")


def test_unknown_label_values(png_folder):
    def put_7(m):
        m[0, 0] = 7
        return m

    rewrite_first_mask(png_folder, put_7)
    with pytest.raises(DataError, match=r"label values \[7\]"):
        read_png_folder(png_folder, "t2_SPACE")


def test_empty_mask_error_or_counted_skip(png_folder):
    mask = rewrite_first_mask(png_folder, np.zeros_like)
    with pytest.raises(DataError, match="no foreground"):
        read_png_folder(png_folder, "t2_SPACE")
    records, report = read_png_folder(png_folder, "t2_SPACE", on_empty="skip")
    assert len(records) == 5 and report["skipped_empty"] == [mask.name]


def test_unannotated_if_absent(png_folder):
    rewrite_first_mask(png_folder, lambda m: np.where(m == 150, 0, m).astype(np.uint8))
    records, _ = read_png_folder(png_folder, "t2_SPACE", unannotated_if_absent=("spinal_canal",))
    assert records[0].annotated == (True, True, False) and records[1].annotated == (True, True, True)


def test_shared_folders_read(data_root):
    folder = data_root / "spider_t2tse"
    records, report = read_png_folder(folder, "t2_TSE", unannotated_if_absent=("spinal_canal",))
    names = sorted(p.stem for p in (folder / "images").glob("*.png"))
    assert report["read"] == len(names) and [r.name for r in records] == names  # nothing skipped or lost
    canal_values = json.loads((folder / "dataset.json").read_text())["structure_of_value"]["spinal_canal"]
    with_canal = sum(np.isin(np.array(Image.open(folder / "masks" / f"{n}.png")), canal_values).any() for n in names)
    assert 0 < sum(r.annotated[2] for r in records) == with_canal < len(names)  # canal absent = not annotated
    for r in records[:10]:  # per-level labels: one instance per distinct level value
        values = np.unique(np.array(Image.open(data_root / "spider_t2tse" / "masks" / f"{r.name}.png")))
        assert r.instances.max() == len(values) - 1


def test_non_square_pixels_from_pixel_spacing_rc_mm(png_folder):
    meta = json.loads((png_folder / "dataset.json").read_text())
    names = sorted(p.name for p in (png_folder / "images").glob("*.png"))
    meta["pixel_spacing_rc_mm"] = {names[0]: [0.3, 0.6]}  # the others fall back to pixel_spacing_mm
    (png_folder / "dataset.json").write_text(json.dumps(meta))
    records, _ = read_png_folder(png_folder, "t2_SPACE")
    assert records[0].spacing_mm == (0.3, 0.6) and records[1].spacing_mm == (1.0, 1.0)
    meta["pixel_spacing_rc_mm"] = {names[0]: [0.3]}
    (png_folder / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"\[row, col\]"):
        read_png_folder(png_folder, "t2_SPACE")


def test_annotated_structures_series_tags_and_patient_groups(png_folder):
    meta = json.loads((png_folder / "dataset.json").read_text())
    meta["annotated_structures"] = ["vertebra"]
    meta["series"] = {"100": {"sequence": "T1 FSE", "appearance": "t1_like"}}
    (png_folder / "dataset.json").write_text(json.dumps(meta))
    records, _ = read_png_folder(png_folder, "x", patient_of_series={"101": "100"})
    assert all(r.annotated == (True, False, False) for r in records)  # disc and canal never scored
    by_series = {r.series: r for r in records}
    assert by_series["100"].tags == {"sequence": "T1 FSE", "appearance": "t1_like"} and by_series["102"].tags == {}
    assert by_series["101"].patient_id == "100" and by_series["102"].patient_id == "102"
    only, report = read_png_folder(png_folder, "x", patient_of_series={"101": "100"}, patients={"100"})
    assert {r.series for r in only} == {"100", "101"} and report["not_selected"] == 2


def test_tse_non_square_slices_read_as_stated(data_root):
    folder = data_root / "spider_t2tse"
    rc = json.loads((folder / "dataset.json").read_text())["pixel_spacing_rc_mm"]
    records, _ = read_png_folder(folder, "t2_TSE", unannotated_if_absent=("spinal_canal",))
    assert all(r.spacing_mm == tuple(rc[f"{r.name}.png"]) for r in records)
    assert any(r.spacing_mm[0] != r.spacing_mm[1] for r in records)


def test_external_folder_grouping(data_root):
    folder = data_root / "external_vb"
    meta = json.loads((folder / "dataset.json").read_text())
    records, _ = read_png_folder(folder, "external", r"^(VB\d_\d+)_s", patient_of_series={"VB1_03": "VB1_02"})
    assert len(records) == len(list((folder / "images").glob("*.png")))
    assert {r.tags["appearance"] for r in records} == {"t1_like", "t2_like"}
    assert {r.series for r in records} == set(meta["series"]) and all(r.annotated == (True, False, False) for r in records)


def test_external_patient_groups_follow_dataset_json(data_root, tmp_path):
    """dataset.json says in prose which VB1 series are one exam; the config must group exactly those."""
    import re

    from tests.helpers import compose_cfg

    text = json.loads((data_root / "external_vb" / "dataset.json").read_text())["patient_id"]
    stated = {tuple(f"VB1_{n}" for n in group.split("/")) for group in re.findall(r"\d\d(?:/\d\d)+", text)}
    mapping = compose_cfg(tmp_path).evaluation.external_source.patient_of_series
    configured = {}
    for series, patient in mapping.items():
        configured.setdefault(patient, {patient}).add(series)
    assert {tuple(sorted(g)) for g in configured.values()} == stated
