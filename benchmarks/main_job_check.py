"""The README's main job timed on a fresh clone of this repository: results/main_job_check.json.

  python benchmarks/main_job_check.py [--ref HEAD] [--keep]

Clones the committed `ref` into a temporary folder with the data beside it (../shared/data, linked) and runs
`python run.py data=synth` there, the clone's package first on PYTHONPATH (the requirements are installed on this
machine; `pip install -e .` in the clone would repoint this checkout's editable install), with an empty matplotlib
cache and no preprocessing cache. Records the wall clock of the command, the run's stage seconds, its steps and
validation Dice, the families it scored, the machine, its start time, and a fixed speed probe run just before and
after it (the machine's speed differs between sessions and between runs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from spine_synthseg.hardware import describe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python run.py data=synth"


def machine() -> dict:
    """describe() (CPU model and flags, cores, memory) with the load average just before the run."""
    return {**describe(), "load_average_1_5_15_before": [round(x, 2) for x in os.getloadavg()]}


def speed_probe(seconds: float = 15.0) -> float:
    """Steps per second of a fixed bf16 workload (2 threads), the same whatever `ref` is: three 3x3 convolutions
    (16 channels, instance norm, LeakyReLU) on 8 x 160 x 128, forward and backward. The machine's speed at the
    time (recorded beside the job; whether it tracks the job's time is not established)."""
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(0)
    layers = []
    for cin in (1, 16, 16):
        layers += [torch.nn.Conv2d(cin, 16, 3, padding=1), torch.nn.InstanceNorm2d(16, affine=True),
                   torch.nn.LeakyReLU()]
    net, x = torch.nn.Sequential(*layers), torch.rand(8, 1, 160, 128)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = net(x).float().square().mean()
        loss.backward()

    for _ in range(3):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - start)


def timed(cmd: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", default="HEAD")
    parser.add_argument("--keep", action="store_true", help="keep the clone (printed)")
    parser.add_argument("--out", default=str(ROOT / "results" / "main_job_check.json"))
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", args.ref], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="main_job_check_"))
    clone, data = work / "spine-synthseg", ROOT.parent / "shared"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", commit], cwd=clone, check=True)
    (work / "shared").symlink_to(data.resolve())
    env = {**os.environ, "PYTHONPATH": str(clone), "MPLCONFIGDIR": str(work / "mpl")}
    env.pop("SPINE_SYNTHSEG_DATA", None)
    package = subprocess.run([sys.executable, "-c", "import spine_synthseg; print(spine_synthseg.__file__)"], cwd=clone,
                             env=env, capture_output=True, text=True, check=True).stdout.strip()
    if not package.startswith(str(clone)):
        raise SystemExit(f"the clone's package is not the one imported there ({package}); stopped")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    machine_before = machine()
    probe = speed_probe()
    wall_s = timed(COMMAND.split(), clone, env)
    probe_after = speed_probe()
    run = max((clone / "outputs" / "runs").iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    test = metrics.get("test") or {}
    families, by_sequence = {}, {}  # patients (volumes: subjects) per family; "sequence=..." rows regroup its slices
    for a in test.get("aggregates", []):
        if a["model"] == metrics["run_name"]:
            (by_sequence if "=" in a["variant"] else families)[f"{a['test']}/{a['variant']}"] = a["n_patients"]
    record = {
        "command": f"git clone <repo> && cd <clone> && PYTHONPATH=<clone> {COMMAND}   (../shared/data beside the clone)",
        "commit": commit,
        "machine": machine_before,
        "started_utc": started,
        "machine_note": "this project's 2-core CPU machine (a fresh one per session), no GPU; the load average is read "
                        "just before the speed probe and the run",
        "speed_probe_steps_per_s": {"before": round(probe, 2), "after": round(probe_after, 2)},
        "speed_probe_note": "a fixed bf16 conv workload (main_job_check.speed_probe), the same for every ref, just "
                            "before and after the run",
        "wall_seconds": round(wall_s, 1),
        "wall_note": f"`{COMMAND}` alone: preprocessing without a cache, {metrics['max_steps']} training steps at "
                     f"batch {metrics['batch_size']} with validation, then evaluation on every test family",
        "stage_seconds": metrics.get("stage_seconds"),
        "max_steps": metrics["max_steps"],
        "batch_size": metrics["batch_size"],
        "precision": metrics["precision"],
        "inference_precision": test.get("inference_precision"),
        "train_images_per_s": metrics["train_images_per_s"],
        "val_synth_dice_mean": metrics["validation"].get("val_synth/dice_mean"),
        "val_real_dice_mean": metrics["validation"].get("val_real/dice_mean"),
        "tested_families": dict(sorted(families.items())),
        "n_tested_families": len(families),
        "external_by_sequence": dict(sorted(by_sequence.items())),
    }
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    if args.keep:
        print(f"clone kept: {clone}")
    else:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
