"""Where predict writes: the output checked before anything is segmented (never the input, never silently over an
existing file, in a writable folder), then written under a temporary name and renamed once complete."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from spine_synthseg.errors import DataError

VOLUME_SUFFIXES = (".mha", ".mhd", ".nii", ".nii.gz", ".nrrd")
SLICE_SUFFIXES = (".png",)


def suffix_of(path: Path) -> str:
    """'.nii.gz' for a.nii.gz, '.mha' for a.mha, '' for a folder name."""
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def stem_of(path: Path) -> str:
    return path.name[: len(path.name) - len(suffix_of(path))] if suffix_of(path) else path.name


def output_target(input_path: Path, output: Path, is_volume: bool) -> Path:
    """The final path of the labels: a volume file (OUTPUT itself, or OUTPUT/<input>_labels.mha for a folder name)
    or, for PNG slices, the folder OUTPUT. An output whose kind does not fit the input is a DataError."""
    suffix = suffix_of(output)
    if is_volume:
        if suffix in SLICE_SUFFIXES or (suffix and suffix not in VOLUME_SUFFIXES):
            raise DataError(f"Output {output} is not a volume file name; the input {input_path} is a volume, so name "
                            f"a label volume ({', '.join(VOLUME_SUFFIXES)}) or a folder to write it in.")
        return output if suffix else output / f"{stem_of(input_path)}_labels.mha"
    if suffix:
        raise DataError(f"Output {output} is a file name; the input {input_path} is a folder of 2D slices, so name "
                        f"a folder for their masks.")
    return output


def check_target(input_path: Path, target: Path, overwrite: bool, named: Path | None = None) -> None:
    """Refuse a target that is the input, lies inside an input folder or holds the input, that exists without
    --overwrite, or whose folder is missing, a file or not writable. named: the output the user gave when the
    target is a file inside it (a folder, created at writing time): then its parent must exist."""
    src, dst = input_path.resolve(), target.resolve()
    if dst == src or (src.is_dir() and src in dst.parents) or (dst.is_dir() and dst in src.parents):
        raise DataError(f"Output {target} is or holds the input {input_path}; choose an output outside the input, "
                        f"so the input is never overwritten.")
    if target.exists() and not overwrite:
        raise DataError(f"Output {target} exists; pass --overwrite to replace it, or choose another output.")
    parent = target.parent if named is None or named.is_dir() else named.parent
    if named is not None and named.exists() and not named.is_dir():
        raise DataError(f"Output {named} is a file, not a folder; name a label volume file or a folder.")
    if not parent.exists():
        raise DataError(f"The output's folder {parent} does not exist; create it first or choose another output.")
    if not parent.is_dir():
        raise DataError(f"The output's folder {parent} is a file, not a folder; choose another output.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".spine-synthseg-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise DataError(f"Cannot write in the output's folder {parent} ({err.strerror}); choose a writable "
                        f"output.") from err


@contextmanager
def written_atomically(targets: list[Path]):
    """Yields {target: temporary path} beside each target (same suffix); on success each temporary path replaces
    its target (a folder too), on any failure or interruption every temporary path is removed."""
    temps = {t: t.with_name(f".{stem_of(t)}.partial-{os.getpid()}{suffix_of(t)}") for t in targets}
    created = [p for p in dict.fromkeys(t.parent for t in targets) if not p.exists()]
    for folder in created:  # an output folder named by the user, made only once the labels exist
        folder.mkdir()
    done = False
    try:
        yield temps
        for target, temp in temps.items():
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)  # only reached with --overwrite (check_target)
            os.replace(temp, target)
        done = True
    finally:
        for temp in temps.values():
            if temp.is_dir():
                shutil.rmtree(temp, ignore_errors=True)
            elif temp.exists():
                temp.unlink()
        for folder in created if not done else []:
            shutil.rmtree(folder, ignore_errors=True)
