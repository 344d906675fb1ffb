#!/usr/bin/env bash
# Issue "Close the reality gap": one-change screening of Model A levers on the REAL VALIDATION patients (seed 0,
# the short budget of their time, SHORT below; Model A's checkpoint is still chosen on synthetic validation),
# capacity at equal time, learning curves, and the 3-seed confirmation of the frozen configuration. Nothing here is scored on a
# test set: each run is scored on the validation family only (mode=evaluate evaluation.tests=[validation], then
# scripts/collect.py runs). Model C is part of
# the default experiment (scripts/run_default_experiment.sh). Resumable: a run with metrics.json is not repeated.
#   bash scripts/run_reality_gap.sh [screen|collect|long|capacity|confirm|long6k] [EXTRA OVERRIDES for long] [MODELS for long6k]
set -euo pipefail
set -f  # overrides such as [0.6,0.95] are not file globs
cd "$(dirname "$0")/.."
STAGE=${1:-screen}
shift || true
case "$STAGE" in screen|collect|long|capacity|confirm|long6k) ;; *) echo "error: unknown stage $STAGE; use screen, collect, long, capacity, confirm or long6k" >&2; exit 2;; esac
OUT=outputs/reality_gap
# the screens ran at the defaults of their time, before the freeze: 800 fp32 steps, cosine, min-max synthetic images
SHORT=(trainer=cpu scheduler=warmup_cosine synth.output_percentiles=null)
declare -A SCREEN=(
  [subregions]="subregions=anatomy"
  [background_8]="synth.background.n_random=8"
  [norm_parity]="synth.output_percentiles=[0.5,99.5]"
  [bf16]="+trainer.precision=bf16-mixed"
  [subregions_clusters]="subregions=real_clusters"
  [subregions_mild]="subregions=anatomy synth.subregions.prob=0.5 synth.subregions.texture_std=0.05 synth.subregions.vertebra_rim_factor=[0.6,0.95]"
)
if [ "$STAGE" = screen ]; then
  # the baseline is the short-budget experiment's Model A, seed 0 (same config and seed)
  mkdir -p $OUT/screen
  ln -sfn "$(pwd)/outputs/short_budget/model_a_seed0" $OUT/screen/baseline
  for name in "${!SCREEN[@]}"; do
    [ -f $OUT/screen/$name/metrics.json ] || python3 run.py experiment=model_a seed=0 evaluate_after_fit=false \
      trainer.enable_progress_bar=false "${SHORT[@]}" ${SCREEN[$name]} hydra.run.dir=$OUT/screen/$name
  done
fi
# score a training run on the validation family (never a test), once: RUN/eval_val/
validate() { [ -f "$1/eval_val/summary.json" ] || python3 run.py mode=evaluate "evaluation.tests=[validation]" \
  evaluation.checkpoints.model_a="$1/checkpoints/best.ckpt" hydra.run.dir="$1/eval_val"; }
if [ "$STAGE" = collect ]; then
  for run in $OUT/screen/*/; do validate "${run%/}"; done
  python3 scripts/collect.py runs results/reality_gap/screening --baseline baseline \
    $(for run in $OUT/screen/*/; do run=${run%/}; echo "$(basename $run)=$run/eval_val"; done)
fi
if [ "$STAGE" = long ]; then
  # lever 3: one warmup-stable-decay run per model (trainer=curve: 4,000 steps, validation every 400) gives the
  # learning curve at a learning rate that has not vanished; extra overrides (e.g. +trainer.precision=bf16-mixed)
  # after the stage name
  for m in model_a model_b; do
    [ -f $OUT/long/$m/metrics.json ] || python3 run.py experiment=$m seed=0 trainer=curve \
      scheduler=warmup_stable_decay synth.output_percentiles=null evaluate_after_fit=false "${@}" hydra.run.dir=$OUT/long/$m
  done
  python3 scripts/collect.py curves results/reality_gap/learning_curves $OUT/long/model_a $OUT/long/model_b
fi
if [ "$STAGE" = capacity ]; then
  # lever 4: base 16 / 24 / 32 channels at equal wall time (bf16, as the screen's "bf16" run, which is base 16 at
  # 800 steps): the steps of base C are 800 x (images/s of C) / (images/s of 16), from benchmarks/step_speed.py
  # on this machine; validation at half-way and at the end (Model A's checkpoint still on synthetic validation).
  for c in 16 24 32; do
    [ -f results/benchmarks/capacity_base$c.json ] || python3 benchmarks/step_speed.py --seconds 20 --data synth \
      --variants bf16 --out capacity_base$c --overrides model.base_channels=$c
  done
  for c in 24 32; do
    steps=$(python3 -c "import json; r=lambda c: json.load(open(f'results/benchmarks/capacity_base{c}.json'))['rows'][0]['images_per_s']; print(int(round(800 * r($c) / r(16) / 20)) * 20)")
    [ -f $OUT/screen/base$c/metrics.json ] || python3 run.py experiment=model_a seed=0 evaluate_after_fit=false \
      trainer.enable_progress_bar=false "${SHORT[@]}" +trainer.precision=bf16-mixed model.base_channels=$c trainer.max_steps=$steps \
      trainer.val_check_interval=$((steps / 2)) hydra.run.dir=$OUT/screen/base$c
  done
fi
if [ "$STAGE" = confirm ]; then
  # the 3-seed confirmation of the frozen configuration on the REAL VALIDATION patients, before any test: Model A
  # of the default experiment (outputs/default, trainer=long ...) against Model A of the earlier short-budget
  # experiment (outputs/short_budget), per-patient Dice averaged over the 3 seeds, paired CI over the patients
  mkdir -p $OUT/confirm
  for s in 0 1 2; do
    for run in outputs/short_budget/model_a_seed$s outputs/default/model_a_seed$s; do
      [ -f $run/metrics.json ] || { echo "error: $run/metrics.json is missing; train it first (scripts/run_default_experiment.sh train)" >&2; exit 2; }
    done
    ln -sfn "$(pwd)/outputs/short_budget/model_a_seed$s" $OUT/confirm/short_budget_seed$s
    ln -sfn "$(pwd)/outputs/default/model_a_seed$s" $OUT/confirm/frozen_seed$s
  done
  for run in $OUT/confirm/*/; do validate "${run%/}"; done
  python3 scripts/collect.py runs results/reality_gap/confirmation --baseline short_budget \
    $(for run in $OUT/confirm/*/; do run=${run%/}; echo "$(basename $run)=$run/eval_val"; done)
fi
if [ "$STAGE" = long6k ]; then
  # lever 3 beyond 4,000 steps, with the frozen configuration (the config's defaults: bf16, warmup-stable-decay,
  # normalisation parity): one 6,000-step run per model (default: model_a model_b), validation every 400 steps
  MODELS=("$@")
  [ ${#MODELS[@]} -gt 0 ] || MODELS=(model_a model_b)
  for m in "${MODELS[@]}"; do
    [ -f $OUT/long6k/$m/metrics.json ] || python3 run.py experiment=$m seed=0 trainer=curve trainer.max_steps=6000 \
      +trainer.precision=bf16-mixed evaluate_after_fit=false hydra.run.dir=$OUT/long6k/$m
  done
  python3 scripts/collect.py curves results/reality_gap/learning_curves_6k $(ls -d $OUT/long6k/model_*)
fi
