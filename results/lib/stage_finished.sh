#!/usr/bin/env bash
# Stages (git add) every finished run of the results tables: the run folders under results/*/runs/ that
# hold result.json or genotype.json. Unfinished runs stay out, so a fresh clone restarts them cleanly
# (their checkpoints are not committed). Run from the repository root, then commit.
set -euo pipefail
cd "$(dirname "$0")/../.."
shopt -s nullglob
for done in results/*/runs/*/*/result.json results/*/runs/*/*/genotype.json results/*/runs/*/table.md; do
    git add -- "$(dirname "$done")"
done
git status --short -- results/*/runs
