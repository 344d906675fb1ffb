"""Rebuild the ``../shared/data`` PNG folders from local copies of their public upstreams.

Each folder's ``dataset.json`` names its upstream; a copy of it ships in ``data/metadata/`` (metadata only: no
image) and says which slices the folder holds. The conversions, verified pixel for pixel against the folders the
results used (``results/data_rebuild_check.json``):

  spider_t2space  GitHub istiak769/Lumbar-Spine-MRI-Segementation, ``Data/t2_SPACE/{images,masks}/*.png``:
                  8-bit grey images and masks (0, 29 disc, 76 vertebra, 150 canal), copied pixel for pixel.
  spider_t2tse    GitHub sarah-antillia/TensorFlow-FlexUNet-Image-Segmentation-SPIDER-T2W-Subset,
                  ``projects/TensorFlowFlexUNet/SPIDER-T2W-Subset/mini_test/{images,masks}/*.png``: stored upside
                  down (flipped vertically here); masks colour-coded with the table of that repository's README
                  (``TSE_COLOURS``), turned into its indices 0-16.
  external_vb     GitHub JonathanRamos/fastcleverseg, ``ImageDatasets/VBs/<VB1|VB2>/Isotropic/Matlab/<NN>.mat``:
                  MATLAB files with ``I`` (image) and ``GT`` (vertebral-body labels), uint8 volumes (x, y, slice)
                  at 1 mm; ``<set>_<NN>_s<k>.png`` is slice k of the last axis, unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from spine_synthseg.errors import DataError

TSE_SUBDIR = Path("projects/TensorFlowFlexUNet/SPIDER-T2W-Subset/mini_test")
SPACE_SUBDIR = Path("Data/t2_SPACE")
VB_SUBDIR = Path("ImageDatasets/VBs")
SPACE_MASK_VALUES = (0, 29, 76, 150)
# (R, G, B) -> index, "SPIDER class color mapping table" of the sarah-antillia repository's README.
TSE_COLOURS = {
    (0, 0, 0): 0, (255, 0, 0): 1, (0, 255, 0): 2, (0, 0, 255): 3, (255, 255, 0): 4, (0, 255, 255): 5,
    (255, 0, 255): 6, (128, 40, 40): 7, (40, 128, 40): 8, (40, 40, 128): 9, (128, 128, 0): 10,
    (0, 128, 128): 11, (128, 0, 128): 12, (40, 40, 40): 13, (80, 80, 80): 14, (128, 128, 128): 15,
    (255, 255, 255): 16,
}


def _read(path: Path, mode: str | None = None) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"Upstream file {path} is missing; check the upstream copy (data/README.md names it).")
    try:
        with Image.open(path) as im:
            return np.array(im.convert(mode) if mode else im)
    except OSError as err:
        raise DataError(f"Cannot read {path} ({err}); re-download that file of the upstream.") from err


def _write_pair(out: Path, name: str, image: np.ndarray, mask: np.ndarray) -> None:
    if image.shape != mask.shape:
        raise DataError(f"{name}: image {image.shape} and mask {mask.shape} differ in size in the upstream copy.")
    Image.fromarray(np.ascontiguousarray(image)).save(out / "images" / name)
    Image.fromarray(np.ascontiguousarray(mask.astype(np.uint8))).save(out / "masks" / name)


def tse_mask_indices(rgb: np.ndarray, source: Path) -> np.ndarray:
    """(H, W) uint8 class indices of an (H, W, 3) colour-coded TSE mask; an unknown colour is a DataError."""
    key = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    table = {(r << 16) | (g << 8) | b: i for (r, g, b), i in TSE_COLOURS.items()}
    unknown = sorted(set(np.unique(key).tolist()) - set(table))
    if unknown:
        colours = [((k >> 16) & 255, (k >> 8) & 255, k & 255) for k in unknown[:3]]
        raise DataError(f"{source}: mask colours {colours} are not in the upstream's colour table (TSE_COLOURS).")
    lookup = np.zeros(1 << 24, np.uint8)
    for k, i in table.items():
        lookup[k] = i
    return lookup[key]


def _space(upstream: Path, out: Path, meta: dict) -> list[str]:
    root = upstream / SPACE_SUBDIR
    names = sorted(p.name for p in (root / "images").glob("*.png"))
    for name in names:
        mask = _read(root / "masks" / name, "L")
        bad = sorted(set(np.unique(mask).tolist()) - set(SPACE_MASK_VALUES))
        if bad:
            raise DataError(f"{root / 'masks' / name}: mask values {bad}; expected {SPACE_MASK_VALUES}.")
        _write_pair(out, name, _read(root / "images" / name, "L"), mask)
    return names


def _tse(upstream: Path, out: Path, meta: dict) -> list[str]:
    root = upstream / TSE_SUBDIR
    names = sorted(meta["pixel_spacing_rc_mm"])
    for name in names:
        mask = tse_mask_indices(_read(root / "masks" / name, "RGB"), root / "masks" / name)
        _write_pair(out, name, np.flipud(_read(root / "images" / name, "L")), np.flipud(mask))
    return names


def _external(upstream: Path, out: Path, meta: dict) -> list[str]:
    from scipy.io import loadmat

    names = sorted(meta["pixel_spacing_mm"])
    volumes: dict[Path, dict] = {}
    for name in names:
        match = re.fullmatch(r"(VB\d)_(\d+)_s(\d+)\.png", name)
        if not match:
            raise DataError(f"external_vb metadata lists {name!r}; expected <VB1|VB2>_<NN>_s<k>.png.")
        path = upstream / VB_SUBDIR / match[1] / "Isotropic" / "Matlab" / f"{match[2]}.mat"
        if path not in volumes:
            if not path.is_file():
                raise DataError(f"Upstream file {path} is missing; check the upstream copy (data/README.md).")
            data = loadmat(str(path))
            if "I" not in data or "GT" not in data:
                raise DataError(f"{path} has no variables I and GT; is it the fastcleverseg Isotropic/Matlab file?")
            volumes = {path: data}  # one volume in memory at a time (names are sorted by series)
        data, k = volumes[path], int(match[3])
        if k >= data["I"].shape[2]:
            raise DataError(f"{path}: slice {k} asked for by {name}, but the volume has {data['I'].shape[2]}.")
        _write_pair(out, name, data["I"][:, :, k], data["GT"][:, :, k])
    return names


REBUILDERS: dict[str, Callable[[Path, Path, dict], list[str]]] = {
    "spider_t2space": _space, "spider_t2tse": _tse, "external_vb": _external,
}


def rebuild_folder(folder: str, upstream: Path, metadata: Path, out_root: Path) -> Path:
    """Write ``out_root/folder`` (images/, masks/, dataset.json) from the upstream copy `upstream` (the root of
    a clone of the repository that `metadata`, a dataset.json, names). Returns the folder written."""
    if folder not in REBUILDERS:
        raise DataError(f"Unknown data folder {folder!r}; use one of {sorted(REBUILDERS)}.")
    if not upstream.is_dir():
        raise DataError(f"Upstream copy {upstream} does not exist; clone the repository data/README.md names.")
    meta = json.loads(metadata.read_text())
    out = out_root / folder
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    names = REBUILDERS[folder](upstream, out, meta)
    if not names:
        raise DataError(f"No slices found for {folder} under {upstream}; is it the right repository?")
    (out / "dataset.json").write_text(metadata.read_text())
    return out
