#!/usr/bin/env bash
# Stages (git add) the runs of the results tables under results/*/runs/ for a commit. Run from anywhere
# in the repository, then commit:
#
#   bash results/lib/stage_finished.sh                  # finished runs (result.json or genotype.json)
#   bash results/lib/stage_finished.sh --checkpoints    # also the checkpoints of unfinished runs
#
# A finished run is staged with its small outputs and the weights .gitignore lets in; a checkpoint it
# carried from an earlier commit is unstaged. Unfinished runs stay out by default, so a fresh clone starts
# them again. With --checkpoints (at the end of a session: stop the runs first), an unfinished run whose
# checkpoint is under 40 MB is staged whole, so that a fresh clone resumes it where it stopped. Every
# run's config.toml is staged: kdnas writes its paths relative to the run folder; the copies written by
# binaries older than that (absolute paths of this checkout) are rewritten the same way first.
set -euo pipefail
cd "$(dirname "$0")/../.."
shopt -s nullglob
MAX_CHECKPOINT_KB=$((40 * 1024))
with_checkpoints=false
[ "${1:-}" = --checkpoints ] && with_checkpoints=true
root=$(pwd)
relative_config() {
    local dir=$1 up
    [ -f "$dir/config.toml" ] || return 0
    up=$(realpath --relative-to="$dir" "$root")
    sed -i "s#\"$root/#\"$up/#g" "$dir/config.toml"
}
for dir in results/*/runs/*/*/; do
    dir=${dir%/}
    if [ -f "$dir/result.json" ] || [ -f "$dir/genotype.json" ]; then
        relative_config "$dir"
        git rm -r -q --cached --ignore-unmatch -- "$dir/checkpoint"
        git add -- "$dir"
    elif $with_checkpoints && [ -f "$dir/checkpoint/state.json" ]; then
        size_kb=$(du -sk "$dir/checkpoint" | cut -f1)
        if [ "$size_kb" -gt "$MAX_CHECKPOINT_KB" ]; then
            echo "not staged: $dir/checkpoint is $((size_kb / 1024)) MB (limit $((MAX_CHECKPOINT_KB / 1024)) MB)" >&2
            continue
        fi
        relative_config "$dir"
        git add -f -- "$dir/checkpoint"
        git add -- "$dir"
    fi
done
for table in results/*/runs/*/table.md; do git add -- "$table"; done
git status --short -- results/*/runs
