#!/usr/bin/env bash
# Issue "Close the reality gap": one-change screening of Model A levers on the REAL VALIDATION patients (seed 0,
# the default budget; Model A's checkpoint is still chosen on synthetic validation). Nothing here is scored on a
# test set: the collection reads the validation patients only (scripts/collect_screening.py). Model C is part of
# the default experiment (scripts/run_default_experiment.sh). Resumable: a run with metrics.json is not repeated.
#   bash scripts/run_reality_gap.sh [screen|collect|long|capacity] [EXTRA OVERRIDES for long]
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-screen}
shift || true
case "$STAGE" in screen|collect|long|capacity) ;; *) echo "error: unknown stage $STAGE; use screen, collect, long or capacity" >&2; exit 2;; esac
OUT=outputs/reality_gap
declare -A SCREEN=(
  [subregions]="subregions=anatomy"
  [background_8]="synth.background.n_random=8"
  [norm_parity]="synth.output_percentiles=[0.5,99.5]"
  [bf16]="+trainer.precision=bf16-mixed"
)
if [ "$STAGE" = screen ]; then
  # the baseline is the default experiment's Model A, seed 0 (same config and seed)
  mkdir -p $OUT/screen
  [ -e $OUT/screen/baseline ] || ln -s "$(pwd)/outputs/default/model_a_seed0" $OUT/screen/baseline
  for name in "${!SCREEN[@]}"; do
    [ -f $OUT/screen/$name/metrics.json ] || python3 run.py experiment=model_a seed=0 evaluate_after_fit=false \
      trainer.enable_progress_bar=false ${SCREEN[$name]} hydra.run.dir=$OUT/screen/$name
  done
fi
if [ "$STAGE" = collect ]; then
  python3 scripts/collect_screening.py $OUT/screen results/reality_gap
fi
if [ "$STAGE" = long ]; then
  # lever 3: one warmup-stable-decay run per model (trainer=curve: 4,000 steps, validation every 400) gives the
  # learning curve at a learning rate that has not vanished; extra overrides (e.g. +trainer.precision=bf16-mixed)
  # after the stage name
  for m in model_a model_b; do
    [ -f $OUT/long/$m/metrics.json ] || python3 run.py experiment=$m seed=0 trainer=curve \
      scheduler=warmup_stable_decay evaluate_after_fit=false "${@}" hydra.run.dir=$OUT/long/$m
  done
  python3 scripts/tensorboard_export.py results/reality_gap/learning_curves $OUT/long/model_a $OUT/long/model_b
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
      trainer.enable_progress_bar=false +trainer.precision=bf16-mixed model.base_channels=$c trainer.max_steps=$steps \
      trainer.val_check_interval=$((steps / 2)) hydra.run.dir=$OUT/screen/base$c
  done
fi
