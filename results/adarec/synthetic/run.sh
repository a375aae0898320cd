#!/usr/bin/env bash
# The AdaRec search on the bundled SYNTHETIC sequences at beta = 0, 2, 8, 32, 128 (the example configs:
# every op evaluated, AdaRec's KL scale and cost table): does a search at beta = 0 keep convolutions and a
# large beta remove them, and where does the cost gradient overtake the task gradient? Minutes on 2 cores.
# Finished runs are skipped, stopped ones resumed. Run from the repository root:
#
#   bash results/adarec/synthetic/run.sh
#   python3 results/adarec/synthetic/table.py
#
# KDNAS=path/to/kdnas uses another binary (default: target/release/kdnas, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
KDNAS=${KDNAS:-target/release/kdnas}
[ -x "$KDNAS" ] || cargo build --release
source results/lib/step.sh
cfg=results/adarec/synthetic runs=results/adarec/runs/synthetic
mkdir -p "$runs"
CONFIG=$cfg/teacher.toml SEED_ARG= step result.json "$runs/teacher" teacher train
for beta in 0 2 8 32 128; do
    CONFIG=$cfg/search_beta$beta.toml SEED_ARG= step genotype.json "$runs/search_beta$beta" adarec search
done
