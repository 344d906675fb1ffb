#!/usr/bin/env bash
# Freeze and test once (results/freeze/, results/protocol.md entry 3). Every run: the default budget (2,000 steps,
# conf/budget/default.yaml), seeds 0 1 2, no test scored at training time (evaluate_after_fit=false).
#   bash scripts/run_freeze.sh train      # the candidates: Model A (default generator), Model A with the combined
#                                         # levers (experiment/freeze/model_a_combined), Model B+aug, Model B;
#                                         # Model A's candidates first (Model C waits for their choice); each
#                                         # run validated as soon as it is trained
#   bash scripts/run_freeze.sh train_c    # Model C with the chosen generator: MODEL_C=model_c | freeze/model_c_combined
#   bash scripts/run_freeze.sh validate   # every trained run on the two validation axes (families validation and
#                                         # shift_validation, never a test) under each inference mode in MODES
#                                         # (default: sliding_window full_pass large_window), each also with the
#                                         # column band (model+column rows); HD95 on the validation patients
#   bash scripts/run_freeze.sh collect    # -> results/freeze/validation_*.csv, validation_front.png (scripts/collect.py freeze)
# Resumable: runs with metrics.json and evaluations with summary.json are skipped. WORKERS processes side by side,
# THREADS torch threads each (default 2 x 1 on 2 cores). Runs land in $FREEZE_OUT (default outputs/freeze).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-train}
OUT=${FREEZE_OUT:-outputs/freeze}
WORKERS=${WORKERS:-2}
THREADS=${THREADS:-1}
MODES=${MODES:-"sliding_window full_pass large_window"}
case "$STAGE" in train|train_c|validate|collect) ;;
  *) echo "error: unknown stage $STAGE; use train, train_c, validate or collect" >&2; exit 2;; esac
key() {  # experiment -> run name and evaluation key: model_a, model_a_combined, model_b_aug, ...
  basename "$1"
}
validate_job() {  # run folder, key: both validation axes under every mode, once each
  for m in $MODES; do
    [ -f "$1/eval_val_$m/summary.json" ] || python3 run.py mode=evaluate "evaluation.tests=[validation,shift_validation]" \
      inference_mode="$m" threads="$THREADS" "++evaluation.checkpoints.$2=$1/checkpoints/best.ckpt" \
      "evaluation.surface_distance_tests=[validation]" "evaluation.inference_variants=[column]" \
      hydra.run.dir="$1/eval_val_$m" > /dev/null
  done
}
train_job() {  # "experiment seed": train once, then validate
  set -- $1
  local name; name=$(key "$1"); local dir="$OUT/${name}_seed$2"
  [ -f "$dir/metrics.json" ] || python3 run.py experiment="$1" seed="$2" threads="$THREADS" evaluate_after_fit=false \
    budget.progress_bar=false hydra.run.dir="$dir" > /dev/null
  validate_job "$dir" "$name"
}
export -f key train_job validate_job; export THREADS OUT MODES
if [ "$STAGE" = train ]; then
  for e in freeze/model_a_combined model_a model_b_aug model_b; do for s in 0 1 2; do echo "$e $s"; done; done \
    | xargs -P "$WORKERS" -I{} bash -c 'train_job "{}"'
fi
if [ "$STAGE" = train_c ]; then
  : "${MODEL_C:?set MODEL_C=model_c or MODEL_C=freeze/model_c_combined (the generator chosen for Model A)}"
  for s in 0 1 2; do echo "$MODEL_C $s"; done | xargs -P "$WORKERS" -I{} bash -c 'train_job "{}"'
fi
if [ "$STAGE" = validate ]; then
  for m in "$OUT"/*_seed*/metrics.json; do d=$(dirname "$m"); n=$(basename "$d"); echo "$d ${n%_seed*}"; done \
    | xargs -P "$WORKERS" -I{} bash -c 'validate_job {}'
fi
if [ "$STAGE" = collect ]; then
  python3 scripts/collect.py freeze results/freeze "$OUT"
fi
