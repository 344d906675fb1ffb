#!/usr/bin/env bash
# The default experiment: Model A and Model B at default settings, same budget, seeds 0 1 2, then the
# robustness suite per seed, then results/default/ (tables across seeds, plots, overlays). Resumable: a run
# whose folder already has metrics.json / summary.json is not repeated. The experiment's time is the sum of
# the runs' own durations (first to last line of each run.log), computed by collect_default.py.
#   bash scripts/run_default_experiment.sh [SEEDS...]      (default: 0 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=("${@:-0 1 2}")
[ $# -gt 0 ] || SEEDS=(0 1 2)
OUT=outputs/default
for s in "${SEEDS[@]}"; do
  for m in model_a model_b; do
    [ -f $OUT/${m}_seed$s/metrics.json ] || \
      python3 run.py experiment=$m seed=$s evaluate_after_fit=false hydra.run.dir=$OUT/${m}_seed$s
  done
  [ -f $OUT/eval_seed$s/summary.json ] || python3 run.py mode=evaluate run_name=eval_seed$s hydra.run.dir=$OUT/eval_seed$s \
    evaluation.checkpoints.model_a=$OUT/model_a_seed$s/checkpoints/best.ckpt \
    evaluation.checkpoints.model_b=$OUT/model_b_seed$s/checkpoints/best.ckpt
done
python3 scripts/collect_default.py $OUT results/default
python3 scripts/analyse_protocol_shift.py results/default
python3 scripts/make_tables.py results > results/tables.md
