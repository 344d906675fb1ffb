#!/usr/bin/env bash
# Realism against randomisation (results/realism/): every variant is an experiment file (conf/experiment/realism/),
# trained at the sweep budget and scored on the two validation axes only (the validation and shift_validation
# families: never a test). Finished runs (metrics.json) and scored runs (eval_val/summary.json) are skipped, so
# every stage resumes. WORKERS processes run side by side, THREADS torch threads each (default 2 x 1 on 2 cores).
#   bash scripts/run_realism.sh screen [SEEDS]   # train every realism/*.yaml (default seeds "0 1")
#   bash scripts/run_realism.sh strength         # realism_strength/strength at strength=0,0.25,0.5,0.75,1, seed 0,
#                                                # on the Optuna study's scale (250 steps, scored with the full pass)
#   bash scripts/run_realism.sh score            # score every trained run on both validation axes
#   bash scripts/run_realism.sh optuna           # the two-objective study (scripts/optuna_realism.py), 20 trials
#   bash scripts/run_realism.sh collect          # -> results/realism/screening*.csv, strength*.csv, front plots
Training stages score each run as soon as it is trained.
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-screen}
SEEDS=${2:-"0 1"}
OUT=${REALISM_OUT:-outputs/realism}
WORKERS=${WORKERS:-2}
THREADS=${THREADS:-1}
case "$STAGE" in screen|strength|score|optuna|collect) ;;
  *) echo "error: unknown stage $STAGE; use screen, strength, score, optuna or collect" >&2; exit 2;; esac
variants() { for f in conf/experiment/realism/*.yaml; do basename "$f" .yaml; done; }
train_job() {  # "experiment seed folder [overrides...]": train once
  set -- $1
  [ -f "$3/metrics.json" ] || python3 run.py experiment="$1" seed="$2" threads="$THREADS" \
    evaluate_after_fit=false hydra.run.dir="$3" "${@:4}" > /dev/null
  case "$1" in realism_strength/*) score_job "$3" inference_mode=full_pass;; *) score_job "$3";; esac
}
score_job() {  # run folder [overrides...]: both validation axes, once
  [ -f "$1/eval_val/summary.json" ] || python3 run.py mode=evaluate "evaluation.tests=[validation,shift_validation]" \
    threads="$THREADS" evaluation.checkpoints.model_a="$1/checkpoints/best.ckpt" hydra.run.dir="$1/eval_val" "${@:2}" > /dev/null
}
export -f train_job score_job; export THREADS
if [ "$STAGE" = screen ]; then
  for s in $SEEDS; do for v in $(variants); do echo "realism/$v $s $OUT/$v/seed$s"; done; done \
    | xargs -P "$WORKERS" -I{} bash -c 'train_job "{}"'
fi
if [ "$STAGE" = strength ]; then
  for x in 0 0.25 0.5 0.75 1; do echo "realism_strength/strength 0 ${OUT}_strength/strength_$x/seed0 strength=$x"; done \
    | xargs -P "$WORKERS" -I{} bash -c 'train_job "{}"'
fi
if [ "$STAGE" = score ]; then
  for m in "$OUT"/*/seed*/metrics.json; do dirname "$m"; done | xargs -P "$WORKERS" -I{} bash -c 'score_job "{}"'
fi
if [ "$STAGE" = optuna ]; then
  for w in $(seq 1 "$WORKERS"); do
    python3 scripts/optuna_realism.py run --trials 20 --threads "$THREADS" --sampler-seed "$w" & sleep 20
  done
  wait
  python3 scripts/optuna_realism.py export
fi
if [ "$STAGE" = collect ]; then
  python3 scripts/collect.py realism results/realism "$OUT" --baseline baseline --name screening
  python3 scripts/collect.py realism results/realism "${OUT}_strength" --name strength
fi
