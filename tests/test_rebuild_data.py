"""Rebuilding the data folders from their upstream layouts (spine_synthseg/data/upstream.py), on small fixtures
written here in each upstream's format; the real upstreams were checked pixel for pixel once
(results/data_rebuild_check.json)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.data.png_folder import read_png_folder
from spine_synthseg.data.upstream import SPACE_SUBDIR, TSE_COLOURS, TSE_SUBDIR, VB_SUBDIR, rebuild_folder
from spine_synthseg.errors import DataError

METADATA = PROJECT_ROOT / "data" / "metadata"
RNG = np.random.default_rng(0)


def _grey(shape=(40, 32)) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _metadata(tmp_path: Path, folder: str, names: list[str], key: str) -> Path:
    """The shipped metadata of `folder`, listing only `names` under `key`."""
    meta = json.loads((METADATA / f"{folder}.dataset.json").read_text())
    meta[key] = {n: meta[key][next(iter(meta[key]))] for n in names}
    path = tmp_path / f"{folder}.json"
    path.write_text(json.dumps(meta))
    return path


def test_space_is_copied_pixel_for_pixel(tmp_path):
    root = tmp_path / "up" / SPACE_SUBDIR
    images, masks = {}, {}
    for name in ("7_t2_SPACE_slice1.png", "7_t2_SPACE_slice2.png", "9_t2_SPACE_slice5.png"):
        images[name] = _grey()
        masks[name] = np.zeros((40, 32), np.uint8)
        masks[name][5:15, 4:20], masks[name][16:20, 4:20], masks[name][5:30, 22:26] = 76, 29, 150
        _png(root / "images" / name, images[name])
        _png(root / "masks" / name, masks[name])
    out = rebuild_folder("spider_t2space", tmp_path / "up", METADATA / "spider_t2space.dataset.json", tmp_path / "out")
    for name in images:
        assert np.array_equal(np.array(Image.open(out / "images" / name)), images[name])
        assert np.array_equal(np.array(Image.open(out / "masks" / name)), masks[name])
    records, _ = read_png_folder(out, "t2_SPACE")
    assert sorted({r.patient_id for r in records}) == ["7", "9"] and len(records) == 3


def test_space_rejects_unknown_mask_values(tmp_path):
    root = tmp_path / "up" / SPACE_SUBDIR
    _png(root / "images" / "1_t2_SPACE_slice1.png", _grey())
    _png(root / "masks" / "1_t2_SPACE_slice1.png", np.full((40, 32), 77, np.uint8))
    with pytest.raises(DataError, match=r"1_t2_SPACE_slice1.png: mask values \[77\]"):
        rebuild_folder("spider_t2space", tmp_path / "up", METADATA / "spider_t2space.dataset.json", tmp_path / "out")


def test_tse_is_flipped_upright_and_colours_become_indices(tmp_path):
    root = tmp_path / "up" / TSE_SUBDIR
    colours = list(TSE_COLOURS)
    stored_image = _grey((48, 36))
    indices = RNG.integers(0, len(colours), (48, 36))
    rgb = np.array(colours, np.uint8)[indices]
    _png(root / "images" / "1001_3.png", stored_image)
    _png(root / "masks" / "1001_3.png", rgb)
    meta = _metadata(tmp_path, "spider_t2tse", ["1001_3.png"], "pixel_spacing_rc_mm")
    out = rebuild_folder("spider_t2tse", tmp_path / "up", meta, tmp_path / "out")
    assert np.array_equal(np.array(Image.open(out / "images" / "1001_3.png")), np.flipud(stored_image))
    expected = np.flipud(np.array([TSE_COLOURS[c] for c in colours])[indices])
    assert np.array_equal(np.array(Image.open(out / "masks" / "1001_3.png")), expected)
    assert json.loads((out / "dataset.json").read_text()) == json.loads(meta.read_text())


def test_tse_rejects_an_unknown_colour(tmp_path):
    root = tmp_path / "up" / TSE_SUBDIR
    _png(root / "images" / "1001_3.png", _grey())
    rgb = np.zeros((40, 32, 3), np.uint8)
    rgb[3, 3] = (1, 2, 3)
    _png(root / "masks" / "1001_3.png", rgb)
    meta = _metadata(tmp_path, "spider_t2tse", ["1001_3.png"], "pixel_spacing_rc_mm")
    with pytest.raises(DataError, match=r"1001_3.png: mask colours \[\(1, 2, 3\)\]"):
        rebuild_folder("spider_t2tse", tmp_path / "up", meta, tmp_path / "out")


def test_external_takes_the_listed_slices_of_each_volume(tmp_path):
    image = RNG.integers(0, 256, (30, 28, 12), dtype=np.uint8)
    labels = np.zeros((30, 28, 12), np.uint8)
    labels[5:12, 6:20, 3:9], labels[14:22, 6:20, 3:9] = 1, 2
    folder = tmp_path / "up" / VB_SUBDIR / "VB2" / "Isotropic" / "Matlab"
    folder.mkdir(parents=True)
    savemat(folder / "07.mat", {"I": image, "GT": labels})
    meta = _metadata(tmp_path, "external_vb", ["VB2_07_s4.png", "VB2_07_s8.png"], "pixel_spacing_mm")
    out = rebuild_folder("external_vb", tmp_path / "up", meta, tmp_path / "out")
    for k in (4, 8):
        assert np.array_equal(np.array(Image.open(out / "images" / f"VB2_07_s{k}.png")), image[:, :, k])
        assert np.array_equal(np.array(Image.open(out / "masks" / f"VB2_07_s{k}.png")), labels[:, :, k])


def test_external_names_a_missing_volume(tmp_path):
    (tmp_path / "up").mkdir()
    meta = _metadata(tmp_path, "external_vb", ["VB1_02_s20.png"], "pixel_spacing_mm")
    with pytest.raises(DataError, match=r"VB1/Isotropic/Matlab/02.mat is missing"):
        rebuild_folder("external_vb", tmp_path / "up", meta, tmp_path / "out")


def test_shipped_metadata_lists_what_the_results_used():
    """data/metadata holds the dataset.json of each folder, byte for byte the one in data/manifest.sha256."""
    import hashlib
    manifest = dict(reversed(line.split("  ", 1)) for line in
                    (PROJECT_ROOT / "data" / "manifest.sha256").read_text().splitlines() if line)
    for folder in ("spider_t2space", "spider_t2tse", "external_vb"):
        digest = hashlib.sha256((METADATA / f"{folder}.dataset.json").read_bytes()).hexdigest()
        assert digest == manifest[f"{folder}/dataset.json"], folder
