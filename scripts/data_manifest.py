"""sha256 manifest of the data files the results used (../shared/data), and a check of a local copy against it.

  python scripts/data_manifest.py write [DATA_ROOT]    # -> data/manifest.sha256 (sha256sum format)
  python scripts/data_manifest.py check [DATA_ROOT]    # exit 1 and list the files that differ or are missing
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("spider_t2space", "spider_t2tse", "external_vb")
MANIFEST = ROOT / "data" / "manifest.sha256"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(data_root: Path) -> dict[str, str]:
    files = sorted(p for f in FOLDERS for p in (data_root / f).rglob("*") if p.is_file())
    return {str(p.relative_to(data_root)): digest(p) for p in files}


def main(mode: str, data_root: Path) -> int:
    if mode == "write":
        lines = [f"{h}  {name}" for name, h in listing(data_root).items()]
        MANIFEST.write_text("\n".join(lines) + "\n")
        print(f"{len(lines)} files -> {MANIFEST}")
        return 0
    expected = dict(reversed(line.split("  ", 1)) for line in MANIFEST.read_text().splitlines() if line)
    found = listing(data_root)
    bad = sorted(n for n in expected if found.get(n) != expected[n])
    extra = sorted(set(found) - set(expected))
    for n in bad:
        print(f"{'MISSING' if n not in found else 'DIFFERS'}  {n}")
    for n in extra:
        print(f"EXTRA    {n}")
    print(f"{len(expected) - len(bad)} of {len(expected)} files match" + (f"; {len(extra)} extra" if extra else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT.parent / "shared" / "data"))
