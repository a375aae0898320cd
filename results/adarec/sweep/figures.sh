#!/usr/bin/env bash
# The trade-off figures and timed table of the AdaRec sweep (results/adarec/README.md, "Search that compares
# ops"): per dataset, `kdnas adarec table` over the teacher and every finished fine-tuning of
# results/adarec/sweep/run.sh, which ranks the test users again, times inference (writing each run's
# eval/eval.json, read by results/adarec/sweep/table.py) and draws test NDCG@10 against parameters and
# against inference time to results/adarec/sweep/tradeoff_<data>_{params,latency}.{png,svg}. Times are only
# comparable when nothing else runs on the machine. Run from the repository root:
#
#   bash results/adarec/sweep/figures.sh ml100k lastfm    # default: both
#
# KDNAS=path/to/kdnas uses another binary (default: target/release/kdnas, built if missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
KDNAS=${KDNAS:-target/release/kdnas}
[ -x "$KDNAS" ] || cargo build --release
declare -A teacher=([ml100k]=results/adarec/runs/ml100k/teacher [lastfm]=results/adarec/runs/sweep-lastfm/teacher)
for data in ${@:-ml100k lastfm}; do
    runs=(${teacher[$data]})
    for run in results/adarec/runs/sweep-$data/finetune_*; do
        [ -f "$run/result.json" ] && runs+=("$run")
    done
    "$KDNAS" adarec table "${runs[@]}" --out "results/adarec/runs/sweep-$data/table.md" \
        --plot "results/adarec/sweep/tradeoff_$data"
done
