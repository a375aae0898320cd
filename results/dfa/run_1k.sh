#!/usr/bin/env bash
# Runs (or continues) the CIFAR-10 1,000-per-class experiment of results/dfa/README.md ("CIFAR-10, 1,000
# per class"): the WRN-16-2 teacher, 3 DFA search seeds, and student alone / KD / overhaul (= Last) /
# Average / Random / DFA x 4 paired seeds (DFA seed s distils from search seed s mod 3). Finished runs are
# skipped and stopped ones resumed, so it can be killed and started again. Run from the repository root:
#
#   bash results/dfa/run_1k.sh
#   python3 results/dfa/table.py results/dfa/runs cifar10-1k
#
# KDNAS=path/to/kdnas uses another binary (default: target/release/kdnas, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
KDNAS=${KDNAS:-target/release/kdnas}
[ -x "$KDNAS" ] || cargo build --release
source results/lib/step.sh
cfg=results/dfa/cifar10-1k
runs=results/dfa/runs/cifar10-1k
mkdir -p "$runs"
CONFIG=$cfg/teacher.toml SEED_ARG= step result.json "$runs/teacher" teacher train
for seed in 0 1 2; do
    CONFIG=$cfg/search.toml SEED_ARG="--seed $seed" step genotype.json "$runs/search_s$seed" dfa search
done
for seed in 0 1 2 3; do
    for method in student kd last average random dfa; do
        config=$cfg/distill_$method.toml
        [ "$method" = dfa ] && config=$cfg/distill_dfa_s$((seed % 3)).toml
        CONFIG=$config SEED_ARG="--seed $seed" step result.json "$runs/distill_${method}_s$seed" distill
    done
done
