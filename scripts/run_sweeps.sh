#!/usr/bin/env bash
# Reality-gap sweeps (Hydra multirun, joblib launcher: 2 jobs x 1 thread on 2 cores). Budget per run:
# budget=sweep (400 steps x 8 images), evaluation=sweep (no surface distances). Then results/sweeps/.
#   bash scripts/run_sweeps.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=outputs/sweeps
A="experiment=model_a budget=sweep evaluation=sweep hydra/launcher=joblib_local threads=1"
python3 run.py -m experiment=model_a,model_b budget=sweep evaluation=sweep hydra/launcher=joblib_local threads=1 \
  hydra.sweep.dir=$OUT/baseline
python3 run.py -m $A randomisation=strength strength=0,0.25,0.5,0.75,1.0 hydra.sweep.dir=$OUT/strength
python3 run.py -m $A ablation=t1_like,t2_like,no_bias,no_noise,no_motion,native_resolution,single_background,real_clusters \
  hydra.sweep.dir=$OUT/ablation
for sweep in baseline strength ablation; do  # each run's own evaluation (evaluate_after_fit), one table per sweep
  python3 scripts/collect.py runs results/sweeps/$sweep $OUT/$sweep/*/
done
python3 scripts/make_tables.py results > results/tables.md
