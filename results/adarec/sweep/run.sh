#!/usr/bin/env bash
# The AdaRec sweep of results/adarec/README.md ("Search that compares ops"): per dataset, searches with
# every op evaluated, AdaRec's KL scale and cost table (search seed 0), each derived student fine-tuned
# with KD (seed 0). In order, so that the runs the gated comparisons need come first:
#   1. per dataset, beta = 0, 4, 64 (LastFM first trains a new teacher with dropout, sweep/lastfm/teacher.toml,
#      since the earlier one fell below a 64 x 4 NextItNet; ML-100K reuses results/adarec/runs/ml100k/teacher);
#   2. search seeds 1 and 2 at beta = 4 (scene adaptivity: do datasets differ more than seeds?);
#   3. ML-100K extras: a 64 x 4 NextItNet (is the 16 x 256 teacher above it?), the beta = 4 student trained
#      with cross-entropy only from scratch (the trade-off curve's from-scratch marker) and from the search's
#      weights (AdaRec's student_finetune), and a search under a budget of 300,000 parameters with its KD
#      fine-tuning;
#   4. per dataset, beta = 1 and 16.
# Finished runs are skipped and stopped ones resumed, so the script can be killed and started again at any
# time. Run from the repository root:
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

# search_and_finetune DATA VARIANT: the search of sweep/DATA/search_VARIANT.toml (seed 0) and the KD fine-tuning
# of its student (finetune_kd_VARIANT.toml, seed 0); VARIANT is beta<B> or budget300k.
search_and_finetune() {
    local cfg=results/adarec/sweep/$1 runs=results/adarec/runs/sweep-$1
    CONFIG=$cfg/search_${2}.toml SEED_ARG="--seed 0" step genotype.json "$runs/search_${2}_s0" adarec search
    CONFIG=$cfg/finetune_kd_${2}.toml SEED_ARG="--seed 0" \
        step result.json "$runs/finetune_kd_${2}_s0" adarec finetune
}

for data in ${datasets[@]}; do
    cfg=results/adarec/sweep/$data runs=results/adarec/runs/sweep-$data
    mkdir -p "$runs"
    if [ -f "$cfg/teacher.toml" ]; then
        CONFIG=$cfg/teacher.toml SEED_ARG= step result.json "$runs/teacher" teacher train
    fi
    for beta in 0 4 64; do search_and_finetune "$data" "beta$beta"; done
done
for data in ${datasets[@]}; do
    cfg=results/adarec/sweep/$data runs=results/adarec/runs/sweep-$data
    for seed in 1 2; do
        CONFIG=$cfg/search_beta4.toml SEED_ARG="--seed $seed" step genotype.json "$runs/search_beta4_s$seed" adarec search
    done
done
if [[ " ${datasets[*]} " == *" ml100k "* ]]; then
    cfg=results/adarec/sweep/ml100k runs=results/adarec/runs/sweep-ml100k
    CONFIG=$cfg/teacher_64x4.toml SEED_ARG= step result.json "$runs/nextitnet_64x4" teacher train
    for init in scratch search; do
        CONFIG=$cfg/finetune_${init}_beta4.toml SEED_ARG="--seed 0" \
            step result.json "$runs/finetune_${init}_beta4_s0" adarec finetune
    done
    search_and_finetune ml100k budget300k
fi
for data in ${datasets[@]}; do
    for beta in 1 16; do search_and_finetune "$data" "beta$beta"; done
done
