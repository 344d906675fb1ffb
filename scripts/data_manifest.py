"""sha256 manifests of the data files the results used (../shared/data), and a check of a copy against them.

  python scripts/data_manifest.py write [DATA_ROOT]    # -> data/manifest.sha256 and data/manifest_pixels.sha256
  python scripts/data_manifest.py check [DATA_ROOT]    # exit 1 and list the files that differ or are missing
  python scripts/data_manifest.py check-pixels [DATA_ROOT] [FOLDER ...]

manifest.sha256 (sha256sum format) hashes the file bytes; manifest_pixels.sha256 hashes what a reader sees: for
a PNG the decoded array (shape, dtype, values), for other files the bytes. A folder rebuilt from its upstream
(scripts/rebuild_data.py) is PNG-encoded anew, so its bytes differ while its pixels must not.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("spider_t2space", "spider_t2tse", "external_vb")
MANIFESTS = {"bytes": ROOT / "data" / "manifest.sha256", "pixels": ROOT / "data" / "manifest_pixels.sha256"}


def digest(path: Path, kind: str = "bytes") -> str:
    if kind == "pixels" and path.suffix == ".png":
        with Image.open(path) as im:
            a = np.ascontiguousarray(np.array(im))
        return hashlib.sha256(f"{a.shape}{a.dtype}".encode() + a.tobytes()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(data_root: Path, kind: str, folders=FOLDERS) -> dict[str, str]:
    files = sorted(p for f in folders for p in (data_root / f).rglob("*") if p.is_file())
    return {str(p.relative_to(data_root)): digest(p, kind) for p in files}


def check(data_root: Path, kind: str, folders=FOLDERS) -> int:
    """Print the files of `folders` that differ from the manifest; 0 if none, else 1."""
    unknown = sorted(set(folders) - set(FOLDERS))
    if unknown:
        raise SystemExit(f"error: unknown data folder(s) {unknown}; use {list(FOLDERS)}.")
    expected = dict(reversed(line.split("  ", 1)) for line in MANIFESTS[kind].read_text().splitlines() if line)
    expected = {n: h for n, h in expected.items() if n.split("/", 1)[0] in folders}
    found = listing(data_root, kind, folders)
    bad = sorted(n for n in expected if found.get(n) != expected[n])
    extra = sorted(set(found) - set(expected))
    for n in bad:
        print(f"{'MISSING' if n not in found else 'DIFFERS'}  {n}")
    for n in extra:
        print(f"EXTRA    {n}")
    print(f"{len(expected) - len(bad)} of {len(expected)} files match ({kind})"
          + (f"; {len(extra)} extra" if extra else ""))
    return 1 if bad or extra else 0


def main(mode: str, data_root: Path, folders=FOLDERS) -> int:
    if mode == "write":
        for kind, path in MANIFESTS.items():
            lines = [f"{h}  {name}" for name, h in listing(data_root, kind).items()]
            path.write_text("\n".join(lines) + "\n")
            print(f"{len(lines)} files -> {path}")
        return 0
    if mode in ("check", "check-pixels"):
        return check(data_root, "bytes" if mode == "check" else "pixels", folders)
    print(__doc__)
    return 2


if __name__ == "__main__":
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT.parent / "shared" / "data"
    sys.exit(main(sys.argv[1], root, tuple(sys.argv[3:]) or FOLDERS))
