#!/usr/bin/env bash
# Runs (or continues) every run of the results/dfa tables: per dataset the teacher, one DFA search,
# and 8 distillation methods x 3 seeds. Finished runs are skipped and stopped ones resumed, so the
# script can be killed and started again at any time. Run from the repository root:
#
#   bash results/dfa/run.sh fmnist fmnist-full cifar10   # default: all three
#   python3 results/dfa/table.py                  # the tables of results/dfa/README.md
#
# KDNAS=path/to/kdnas uses another binary (default: target/release/kdnas, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
KDNAS=${KDNAS:-target/release/kdnas}
[ -x "$KDNAS" ] || cargo build --release
datasets=("${@:-fmnist fmnist-full cifar10}")
source results/lib/step.sh
for data in ${datasets[@]}; do
    cfg=results/dfa/$data
    runs=results/dfa/runs/$data
    mkdir -p "$runs"
    CONFIG=$cfg/teacher.toml SEED_ARG= step result.json "$runs/teacher" teacher train
    CONFIG=$cfg/search.toml SEED_ARG= step genotype.json "$runs/search" dfa search
    for seed in 0 1 2; do
        for method in student kd fitnet at last average random dfa; do
            CONFIG=$cfg/distill_$method.toml SEED_ARG="--seed $seed" \
                step result.json "$runs/distill_${method}_s$seed" distill
        done
    done
done
