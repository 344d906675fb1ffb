#!/usr/bin/env bash
# A candidate change to the frozen Model A configuration, confirmed at 3 seeds on the REAL VALIDATION patients
# only (never a test set): Model A with the config's defaults plus OVERRIDES at seeds 0 1 2, against Model A of
# the default experiment (outputs/default/model_a_seed{0,1,2}), per-patient Dice averaged over the seeds, paired
# CI over the validation patients and seeds. Writes results/reality_gap/candidate_NAME{,_paired,_per_patient}.csv. Resumable.
#   bash scripts/confirm_candidate.sh NAME OVERRIDE [OVERRIDE ...]
#   e.g. bash scripts/confirm_candidate.sh real_clusters subregions=real_clusters
set -euo pipefail
set -f  # overrides such as [0.6,0.95] are not file globs
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bash scripts/confirm_candidate.sh NAME OVERRIDE [OVERRIDE ...]" >&2; exit 2; }
NAME=$1
shift
[ "$NAME" != frozen ] || { echo "error: NAME 'frozen' is the baseline's name; choose another" >&2; exit 2; }
OUT="outputs/reality_gap/candidates/$NAME"
for s in 0 1 2; do
  [ -f outputs/default/model_a_seed$s/metrics.json ] || { echo "error: outputs/default/model_a_seed$s is missing; run scripts/run_default_experiment.sh train first" >&2; exit 2; }
done
for s in 0 1 2; do
  [ -f $OUT/${NAME}_seed$s/metrics.json ] || python3 run.py experiment=model_a seed=$s evaluate_after_fit=false \
    trainer.enable_progress_bar=false "$@" hydra.run.dir=$OUT/${NAME}_seed$s
  ln -sfn "$(pwd)/outputs/default/model_a_seed$s" $OUT/frozen_seed$s
done
for run in $OUT/*/; do  # each run scored on the validation family only
  [ -f "${run}eval_val/summary.json" ] || python3 run.py mode=evaluate "evaluation.tests=[validation]" \
    evaluation.checkpoints.model_a="${run}checkpoints/best.ckpt" hydra.run.dir="${run}eval_val"
done
python3 scripts/collect.py runs results/reality_gap/candidate_$NAME --baseline frozen \
  $(for run in $OUT/*/; do run=${run%/}; echo "$(basename $run)=$run/eval_val"; done)
