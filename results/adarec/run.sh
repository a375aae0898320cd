#!/usr/bin/env bash
# Runs (or continues) every run of the results/adarec tables. Per dataset: the NextItNet teacher, the
# student search at beta = 1 and its derived student fine-tuned with KD and from scratch (3 seeds each),
# then the beta sweep (searches at beta = 0 (no cost term), 0.25 and 4, each fine-tuned with KD: seed 0,
# seeds 0-2 for beta = 0),
# then the ranking and latency tables. Finished runs are skipped and stopped ones resumed, so the
# script can be killed and started again at any time. Run from the repository root:
#
#   bash results/adarec/run.sh lastfm ml100k       # default: both
#   python3 results/adarec/table.py                # the tables of results/adarec/README.md
#
# KDNAS=path/to/kdnas uses another binary (default: target/release/kdnas, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
KDNAS=${KDNAS:-target/release/kdnas}
[ -x "$KDNAS" ] || cargo build --release
source results/lib/step.sh
datasets=("${@:-lastfm ml100k}")
main_rows() {
    local data=$1 cfg=results/adarec/$1 runs=results/adarec/runs/$1
    mkdir -p "$runs"
    CONFIG=$cfg/teacher.toml SEED_ARG= step result.json "$runs/teacher" teacher train
    CONFIG=$cfg/search_beta1.toml SEED_ARG= step genotype.json "$runs/search_beta1" adarec search
    for seed in 0 1 2; do
        for how in kd scratch; do
            CONFIG=$cfg/finetune_${how}_beta1.toml SEED_ARG="--seed $seed" \
                step result.json "$runs/finetune_${how}_beta1_s$seed" adarec finetune
        done
    done
}
sweep_rows() {
    local data=$1 cfg=results/adarec/$1 runs=results/adarec/runs/$1
    for beta in 0 0.25 4; do
        CONFIG=$cfg/search_beta$beta.toml SEED_ARG= step genotype.json "$runs/search_beta$beta" adarec search
        # The control (no cost term) is the comparison point of the sweep: 3 fine-tuning seeds as beta = 1.
        seeds=0
        [ "$beta" = 0 ] && seeds="0 1 2"
        for seed in $seeds; do
            CONFIG=$cfg/finetune_kd_beta$beta.toml SEED_ARG="--seed $seed" \
                step result.json "$runs/finetune_kd_beta${beta}_s$seed" adarec finetune
        done
    done
}
for data in ${datasets[@]}; do main_rows "$data"; done
for data in ${datasets[@]}; do sweep_rows "$data"; done
for data in ${datasets[@]}; do
    runs=results/adarec/runs/$data
    finished=$(ls -d "$runs"/teacher "$runs"/finetune_*_s* 2>/dev/null)
    # Ranks every run with its best epoch and times inference back to back (eval/eval.json per run).
    "$KDNAS" adarec table $finished --out "$runs/table.md"
done
