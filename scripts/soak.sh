#!/usr/bin/env bash
# Long kill-and-resume soak (issue 9, item 19): tests/kill_resume.rs with many kills per run kind
# (search and derived-network training), output shown so the figures can be read and recorded in
# results/reliability/README.md.
#
#   bash scripts/soak.sh                          # 25 kills per run kind, a fresh random seed
#   KDNAS_SOAK_KILLS=100 bash scripts/soak.sh     # more kills
#   KDNAS_SOAK_SEED=123 bash scripts/soak.sh      # the kill moments of a printed seed again (what
#                                                 # they hit still depends on the timing of the run)
set -euo pipefail
cd "$(dirname "$0")/.."
export KDNAS_SOAK_KILLS="${KDNAS_SOAK_KILLS:-25}"
exec cargo test --release --test kill_resume -- --nocapture --test-threads 1
