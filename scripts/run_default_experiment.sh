#!/usr/bin/env bash
# The default experiment under the whole-slice protocol: Model A (synthetic), Model B (real), Model B+aug
# (real + nnU-Net intensity augmentation) and Model C (synthetic + real in every batch), same U-Net, loss and
# budget, seeds 0 1 2; then one evaluation per seed of the four checkpoints (real-image tests and the validation
# families for every seed, home-field tests for seed 0 only); then results/default/ and results/headline.csv
# (scripts/collect.py experiment: CIs over patients and seeds).
# The budget is the config's default: budget=default (2,000 steps x 8, warmup-stable-decay; precision by the CPU's
# bf16 support), with synthetic images normalised as real slices; the configuration frozen in the reality-gap issue
# (docs/lab_notebook.md, section 8). The earlier run at the short budget (800 fp32 steps, cosine, min-max synthetic
# images) is kept in results/short_budget/; EXPERIMENT_SET=short EXPERIMENT_OUT=outputs/short_budget
# EXPERIMENT_RESULTS=results/short_budget repeats it (the experiment files conf/experiment/short/*.yaml).
# Resumable: a run whose folder already has metrics.json / summary.json is not repeated.
# Inference (validation, tests, predict) uses `inference_mode` of conf/config.yaml: the sliding window, chosen on
# the validation patients (results/inference_choice.json; the earlier full-pass run is kept in results/full_pass/).
# Stage "compare" (part of all): seed 0 only, the old label-centred crop protocol on the SPIDER tests, and
# full-pass vs sliding-window inference on the validation families (results/inference_validation*.csv).
#   [EXPERIMENT_OUT=outputs/default] [EXPERIMENT_RESULTS=results] [EXPERIMENT_SET=short] \
#   bash scripts/run_default_experiment.sh [train|evaluate|compare|collect|all] [SEEDS...]   (default: all 0 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-all}
shift || true
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0 1 2)
OUT=${EXPERIMENT_OUT:-outputs/default}
RESULTS=${EXPERIMENT_RESULTS:-results}
PREFIX=${EXPERIMENT_SET:+$EXPERIMENT_SET/}  # experiment=model_a, or experiment=short/model_a
echo "runs: $OUT, results: $RESULTS, experiments: ${PREFIX}model_*"
MODELS=(model_a model_b model_b_aug model_c)
if [ "$STAGE" = train ] || [ "$STAGE" = all ]; then
  for m in "${MODELS[@]}"; do  # all seeds of Model A first: its validation confirms the configuration early
    for s in "${SEEDS[@]}"; do
      [ -f $OUT/${m}_seed$s/metrics.json ] || \
        python3 run.py experiment=$PREFIX$m seed=$s evaluate_after_fit=false budget.progress_bar=false \
          hydra.run.dir=$OUT/${m}_seed$s
    done
  done
fi
ckpts() { for m in "${MODELS[@]}"; do echo "evaluation.checkpoints.$m=$OUT/${m}_seed$1/checkpoints/best.ckpt"; done; }
if [ "$STAGE" = evaluate ] || [ "$STAGE" = all ]; then
  # the real-image tests and the validation families for every seed; the home-field tests (contrast, resolution)
  # for seed 0 only (CPU time)
  for s in "${SEEDS[@]}"; do
    [ -f $OUT/eval_seed$s/summary.json ] || python3 run.py mode=evaluate run_name=eval_seed$s \
      hydra.run.dir=$OUT/eval_seed$s "evaluation.tests=[standard,protocol_shift,external,external_dixon]" $(ckpts $s)
    [ -f $OUT/eval_val_seed$s/summary.json ] || python3 run.py mode=evaluate run_name=eval_val_seed$s \
      hydra.run.dir=$OUT/eval_val_seed$s "evaluation.tests=[validation,shift_validation]" $(ckpts $s)
  done
  [ -f $OUT/eval_home_seed0/summary.json ] || python3 run.py mode=evaluate run_name=eval_home_seed0 \
    hydra.run.dir=$OUT/eval_home_seed0 "evaluation.tests=[contrast,resolution]" $(ckpts 0)
fi
if [ "$STAGE" = compare ] || [ "$STAGE" = all ]; then
  [ -f $OUT/eval_crop_seed0/summary.json ] || python3 run.py mode=evaluate run_name=eval_crop_seed0 \
    hydra.run.dir=$OUT/eval_crop_seed0 "evaluation.tests=[standard,protocol_shift]" "evaluation.label_crop_mm=[240,192]" $(ckpts 0)
  [ -f $OUT/eval_val_full_pass_seed0/summary.json ] || python3 run.py mode=evaluate inference_mode=full_pass \
    run_name=eval_val_full_pass_seed0 hydra.run.dir=$OUT/eval_val_full_pass_seed0 "evaluation.tests=[validation,shift_validation]" $(ckpts 0)
  python3 scripts/collect.py evaluation $RESULTS/inference_validation sliding_window=$OUT/eval_val_seed0 \
    full_pass=$OUT/eval_val_full_pass_seed0
fi
if [ "$STAGE" = collect ] || [ "$STAGE" = all ]; then
  python3 scripts/collect.py experiment $OUT $RESULTS
fi
