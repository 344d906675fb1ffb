#!/usr/bin/env bash
# A candidate change to the frozen Model A configuration (an experiment file, e.g. conf/experiment/candidate/
# real_clusters.yaml), confirmed at 3 seeds on the REAL VALIDATION patients only (never a test set): against Model A
# of the default experiment (outputs/default/model_a_seed{0,1,2}), two-level CI over patients and seeds. Writes
# results/reality_gap/candidate_NAME{,_paired,_per_patient}.csv. Resumable.
#   bash scripts/confirm_candidate.sh NAME        # experiment=candidate/NAME
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] && [ -f "conf/experiment/candidate/$1.yaml" ] || {
  echo "usage: bash scripts/confirm_candidate.sh NAME (one of: $(ls conf/experiment/candidate | sed 's/.yaml//' | tr '\n' ' '))" >&2; exit 2; }
NAME=$1
OUT="outputs/reality_gap/candidates/$NAME"
validate() {
  [ -f "$1/metrics.json" ] || { echo "error: $1/metrics.json is missing; train that run first" >&2; exit 2; }
  [ -f "$1/eval_val/summary.json" ] || python3 run.py mode=evaluate "evaluation.tests=[validation]" \
    evaluation.checkpoints.model_a="$1/checkpoints/best.ckpt" hydra.run.dir="$1/eval_val"
}
for s in 0 1 2; do
  [ -f $OUT/seed$s/metrics.json ] || python3 run.py experiment=candidate/$NAME seed=$s evaluate_after_fit=false \
    hydra.run.dir=$OUT/seed$s
  validate $OUT/seed$s
  validate outputs/default/model_a_seed$s
done
python3 scripts/collect.py runs results/reality_gap/candidate_$NAME --baseline frozen \
  $(for s in 0 1 2; do echo "${NAME}_seed$s=$OUT/seed$s/eval_val"; echo "frozen_seed$s=outputs/default/model_a_seed$s/eval_val"; done)
