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
#   FINAL_A=model_a_combined FINAL_C=model_c_combined FINAL_MODE=full_pass bash scripts/run_freeze.sh test
#                                         # only once results/protocol.md holds entry 3 and is committed: the frozen
#                                         # runs linked as $FINAL_OUT/model_{a,b,b_aug,c}_seed<k> (default
#                                         # outputs/final), every real test under every mode in MODES for each seed
#                                         # (the frozen mode in eval_seed<k>, the others in eval_<mode>_seed<k>),
#                                         # collected after each seed into results/final/ (headline.csv, default/
#                                         # per_patient.csv ...); home-field tests for seed 0; then
#                                         # results/final/inference_mode*.csv (every real test under each mode)
# Resumable: runs with metrics.json and evaluations with summary.json are skipped. WORKERS processes side by side,
# THREADS torch threads each (default 2 x 1 on 2 cores). Runs land in $FREEZE_OUT (default outputs/freeze).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-train}
OUT=${FREEZE_OUT:-outputs/freeze}
WORKERS=${WORKERS:-2}
THREADS=${THREADS:-1}
MODES=${MODES:-"sliding_window full_pass large_window"}
case "$STAGE" in train|train_c|validate|collect|test) ;;
  *) echo "error: unknown stage $STAGE; use train, train_c, validate, collect or test" >&2; exit 2;; esac
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
if [ "$STAGE" = test ]; then
  : "${FINAL_A:?set FINAL_A (model_a | model_a_combined), FINAL_C and FINAL_MODE as results/protocol.md entry 3 says}"
  : "${FINAL_C:?set FINAL_C (model_c | model_c_combined)}" "${FINAL_MODE:?set FINAL_MODE (an inference mode)}"
  if ! grep -q "^## 3\. " results/protocol.md || ! git diff --quiet HEAD -- results/protocol.md; then
    echo "error: commit entry 3 of results/protocol.md (the frozen configuration) before any test is scored" >&2; exit 2
  fi
  FINAL=${FINAL_OUT:-outputs/final}
  mkdir -p "$FINAL"
  for s in 0 1 2; do
    for pair in "model_a:$FINAL_A" "model_b:model_b" "model_b_aug:model_b_aug" "model_c:$FINAL_C"; do
      run="$OUT/${pair#*:}_seed$s"
      [ -f "$run/metrics.json" ] || { echo "error: $run is not trained; run the train stages first" >&2; exit 2; }
      ln -sfn "$(realpath "$run")" "$FINAL/${pair%%:*}_seed$s"
    done
  done
  ckpts() { for m in model_a model_b model_b_aug model_c; do echo "evaluation.checkpoints.$m=$FINAL/${m}_seed$1/checkpoints/best.ckpt"; done; }
  folder() { if [ "$1" = "$FINAL_MODE" ]; then echo "$FINAL/eval_seed$2"; else echo "$FINAL/eval_$1_seed$2"; fi; }
  for s in 0 1 2; do
    for m in $MODES; do
      d=$(folder "$m" "$s")
      [ -f "$d/summary.json" ] || python3 run.py mode=evaluate inference_mode="$m" run_name="$(basename "$d")" \
        threads=2 "evaluation.tests=[standard,protocol_shift,external,external_dixon]" \
        "evaluation.inference_variants=${FINAL_VARIANTS:-[]}" $(ckpts "$s") hydra.run.dir="$d" > /dev/null
    done
    python3 scripts/collect.py experiment "$FINAL" results/final  # the rows so far: commit them
  done
  [ -f "$FINAL/eval_home_seed0/summary.json" ] || python3 run.py mode=evaluate inference_mode="$FINAL_MODE" \
    run_name=eval_home_seed0 threads=2 "evaluation.tests=[contrast,resolution]" $(ckpts 0) \
    hydra.run.dir="$FINAL/eval_home_seed0" > /dev/null
  python3 scripts/collect.py experiment "$FINAL" results/final
  python3 scripts/collect.py evaluation results/final/inference_mode \
    $(for m in $MODES; do echo "$m=$(folder "$m" 0),$(folder "$m" 1),$(folder "$m" 2)"; done)
fi
