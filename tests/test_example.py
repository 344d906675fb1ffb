"""example.py: the whole pipeline (generate, train Model A and Model B, evaluate on real and home-field tests,
Dice side by side, one figure) on the shipped sample at a smoke budget."""

import subprocess
import sys
import time

from spine_synthseg.config import PROJECT_ROOT


def test_example_runs_the_whole_pipeline_on_the_sample(tmp_path):
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "example.py", "source=sample", "budget=smoke", "--out", str(tmp_path)],
                            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
                            encoding="utf-8", errors="replace")
    elapsed = time.perf_counter() - start
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "model_a" / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "model_b" / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "example.png").stat().st_size > 10_000 and (tmp_path / "evaluation" / "metrics.csv").is_file()
    out = result.stdout
    assert "standard / t2_space" in out and "contrast / inversion *" in out and "home-field" in out
    assert "not a result" in out
    assert elapsed < 60, f"example.py took {elapsed:.0f} s at the smoke budget"
