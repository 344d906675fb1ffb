#!/usr/bin/env bash
# The default experiment under the whole-slice protocol: Model A (synthetic), Model B (real) and Model B+aug
# (real + nnU-Net intensity augmentation), same U-Net, loss and budget (trainer=cpu: 800 steps x 8), seeds 0 1 2;
# then one evaluation per seed of the three checkpoints; then results/default/ and results/headline.csv.
# Resumable: a run whose folder already has metrics.json / summary.json is not repeated.
# Stage "compare" (part of all): seed 0 only, the old label-centred crop protocol on the SPIDER tests, and
# full-pass vs sliding-window inference on the validation patients.
#   bash scripts/run_default_experiment.sh [train|evaluate|compare|collect|all] [SEEDS...]   (default: all 0 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
STAGE=${1:-all}
shift || true
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(0 1 2)
OUT=outputs/default
MODELS=(model_a model_b model_b_aug)
if [ "$STAGE" = train ] || [ "$STAGE" = all ]; then
  for s in "${SEEDS[@]}"; do
    for m in "${MODELS[@]}"; do
      [ -f $OUT/${m}_seed$s/metrics.json ] || \
        python3 run.py experiment=$m seed=$s evaluate_after_fit=false trainer.enable_progress_bar=false \
          hydra.run.dir=$OUT/${m}_seed$s
    done
  done
fi
if [ "$STAGE" = evaluate ] || [ "$STAGE" = all ]; then
  for s in "${SEEDS[@]}"; do
    [ -f $OUT/eval_seed$s/summary.json ] || python3 run.py mode=evaluate run_name=eval_seed$s hydra.run.dir=$OUT/eval_seed$s \
      evaluation.checkpoints.model_a=$OUT/model_a_seed$s/checkpoints/best.ckpt \
      evaluation.checkpoints.model_b=$OUT/model_b_seed$s/checkpoints/best.ckpt \
      evaluation.checkpoints.model_b_aug=$OUT/model_b_aug_seed$s/checkpoints/best.ckpt
  done
fi
CKPTS="model_a=$OUT/model_a_seed0/checkpoints/best.ckpt model_b=$OUT/model_b_seed0/checkpoints/best.ckpt model_b_aug=$OUT/model_b_aug_seed0/checkpoints/best.ckpt"
if [ "$STAGE" = compare ] || [ "$STAGE" = all ]; then
  [ -f $OUT/eval_crop_seed0/summary.json ] || python3 run.py mode=evaluate run_name=eval_crop_seed0 \
    hydra.run.dir=$OUT/eval_crop_seed0 "evaluation.tests=[standard,protocol_shift]" "evaluation.label_crop_mm=[240,192]" \
    $(for c in $CKPTS; do echo "evaluation.checkpoints.$c"; done)
  [ -f results/inference_choice.json ] || python3 scripts/compare_inference.py results/inference_choice.json $CKPTS
fi
if [ "$STAGE" = collect ] || [ "$STAGE" = all ]; then
  python3 scripts/collect_default.py $OUT results
fi
