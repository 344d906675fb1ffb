#!/usr/bin/env bash
# Reality-gap runs, all defined as experiment files (conf/experiment/{screen,curve,candidate}/): this script keeps
# only the order of the stages and skips runs that have finished (metrics.json) or been scored (eval_val/). Nothing
# here is scored on a test set: every run is scored on the validation family only (mode=evaluate
# evaluation.tests=[validation]), then collected with scripts/collect.py. Resumable.
#   bash scripts/run_reality_gap.sh screen     # every conf/experiment/screen/*.yaml (levers 1, 4, 5, 6), seed 0
#   bash scripts/run_reality_gap.sh collect    # screen runs -> results/reality_gap/screening*.csv
#   bash scripts/run_reality_gap.sh capacity   # images/s per width (results/benchmarks/capacity_base*.json)
#   bash scripts/run_reality_gap.sh curves     # learning curves: experiment=curve/model_a, curve/model_b
#   bash scripts/run_reality_gap.sh curve6k    # experiment=curve/model_a_6k
#   bash scripts/run_reality_gap.sh confirm    # frozen vs short-budget Model A, seeds 0-2 (runs of run_default_experiment.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-screen}
OUT=outputs/reality_gap
case "$STAGE" in screen|collect|capacity|curves|curve6k|confirm) ;;
  *) echo "error: unknown stage $STAGE; use screen, collect, capacity, curves, curve6k or confirm" >&2; exit 2;; esac
train() {  # experiment, seed, folder: train once
  [ -f "$3/metrics.json" ] || python3 run.py experiment="$1" seed="$2" evaluate_after_fit=false hydra.run.dir="$3"
}
validate() {  # run folder: score its checkpoint on the validation family once
  [ -f "$1/metrics.json" ] || { echo "error: $1/metrics.json is missing; train that run first" >&2; exit 2; }
  [ -f "$1/eval_val/summary.json" ] || python3 run.py mode=evaluate "evaluation.tests=[validation]" \
    evaluation.checkpoints.model_a="$1/checkpoints/best.ckpt" hydra.run.dir="$1/eval_val"
}
screens() { for f in conf/experiment/screen/*.yaml; do basename "$f" .yaml; done; }
if [ "$STAGE" = screen ]; then
  for name in $(screens); do train "screen/$name" 0 "$OUT/screen/$name"; done
fi
if [ "$STAGE" = collect ]; then
  for name in $(screens); do validate "$OUT/screen/$name"; done
  python3 scripts/collect.py runs results/reality_gap/screening --baseline baseline \
    $(for name in $(screens); do echo "$name=$OUT/screen/$name/eval_val"; done)
fi
if [ "$STAGE" = capacity ]; then
  for c in 16 24 32; do
    [ -f results/benchmarks/capacity_base$c.json ] || python3 benchmarks/step_speed.py --seconds 20 --data synth \
      --variants bf16 --out capacity_base$c --overrides model.base_channels=$c
  done
fi
if [ "$STAGE" = curves ]; then
  for m in model_a model_b; do train "curve/$m" 0 "$OUT/curve/$m"; done
  python3 scripts/collect.py curves results/reality_gap/learning_curves "$OUT/curve/model_a" "$OUT/curve/model_b"
fi
if [ "$STAGE" = curve6k ]; then
  train curve/model_a_6k 0 "$OUT/curve/model_a_6k"
  python3 scripts/collect.py curves results/reality_gap/learning_curves_6k "$OUT/curve/model_a_6k"
fi
if [ "$STAGE" = confirm ]; then
  # Model A of the default experiment (frozen configuration) against Model A of the short-budget experiment
  for s in 0 1 2; do validate outputs/short_budget/model_a_seed$s; validate outputs/default/model_a_seed$s; done
  python3 scripts/collect.py runs results/reality_gap/confirmation --baseline short_budget \
    $(for s in 0 1 2; do echo "short_budget_seed$s=outputs/short_budget/model_a_seed$s/eval_val"; \
                         echo "frozen_seed$s=outputs/default/model_a_seed$s/eval_val"; done)
fi
