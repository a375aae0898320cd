#!/usr/bin/env bash
# The AdaRec sweep of results/adarec/README.md ("Search that compares ops"): per dataset, searches with
# every op evaluated, AdaRec's KL scale and cost table at beta = 0, 1, 4, 16, 64 (search seed 0), each
# derived student fine-tuned with KD (seed 0); then search seeds 1 and 2 at beta = 4 (scene adaptivity:
# do datasets differ more than seeds?). ML-100K uses the teacher of the earlier tables
# (results/adarec/runs/ml100k/teacher); LastFM a new teacher with dropout (sweep/lastfm/teacher.toml),
# since the earlier one fell below a 64 x 4 NextItNet. Finished runs are skipped and stopped ones resumed, so the script
# can be killed and started again at any time. Run from the repository root:
#
#   bash results/adarec/sweep/run.sh ml100k lastfm    # default: both
#   python3 results/adarec/table.py                  # prints the sweep tables too
#
# KDNAS=path/to/kdnas uses another binary (default: target/release/kdnas, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
KDNAS=${KDNAS:-target/release/kdnas}
[ -x "$KDNAS" ] || cargo build --release
source results/lib/step.sh
datasets=("${@:-ml100k lastfm}")
for data in ${datasets[@]}; do
    cfg=results/adarec/sweep/$data runs=results/adarec/runs/sweep-$data
    mkdir -p "$runs"
    if [ -f "$cfg/teacher.toml" ]; then
        CONFIG=$cfg/teacher.toml SEED_ARG= step result.json "$runs/teacher" teacher train
    fi
    for beta in 0 4 64 1 16; do
        CONFIG=$cfg/search_beta$beta.toml SEED_ARG="--seed 0" step genotype.json "$runs/search_beta${beta}_s0" adarec search
        CONFIG=$cfg/finetune_kd_beta$beta.toml SEED_ARG="--seed 0" \
            step result.json "$runs/finetune_kd_beta${beta}_s0" adarec finetune
    done
done
for data in ${datasets[@]}; do
    cfg=results/adarec/sweep/$data runs=results/adarec/runs/sweep-$data
    for seed in 1 2; do
        CONFIG=$cfg/search_beta4.toml SEED_ARG="--seed $seed" step genotype.json "$runs/search_beta4_s$seed" adarec search
    done
done
