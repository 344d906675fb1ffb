"""Rebuild a folder of ../shared/data from a local clone of its public upstream, then check its pixels.

  python scripts/rebuild_data.py FOLDER UPSTREAM_CLONE OUT_ROOT

OUT_ROOT: where FOLDER is written (a new folder; then point SPINE_SYNTHSEG_DATA at it or move it beside the
checkout as ../shared/data once the check passes). It must not be the copy you are checking against.

FOLDER: spider_t2space | spider_t2tse | external_vb; UPSTREAM_CLONE: the root of a clone of the repository that
data/metadata/FOLDER.dataset.json names (data/README.md lists them, with commits). The conversion is
spine_synthseg/data/upstream.py; the check compares the decoded pixels with data/manifest_pixels.sha256, the
manifest of the copy the results used (exit status 1 if any file differs).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from data_manifest import check  # noqa: E402
from spine_synthseg.data.upstream import rebuild_folder  # noqa: E402
from spine_synthseg.errors import DataError  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    folder, upstream, out_root = argv[0], Path(argv[1]), Path(argv[2])
    if (out_root / folder).exists():
        print(f"error: {out_root / folder} exists; rebuild into a new folder.", file=sys.stderr)
        return 2
    try:
        out = rebuild_folder(folder, upstream, ROOT / "data" / "metadata" / f"{folder}.dataset.json", out_root)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"written: {out}")
    return check(out_root, "pixels", (folder,))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
