#!/usr/bin/env python3
"""The AdaRec sweep of results/adarec/README.md ("Search that compares ops") as markdown, from the run
folders of results/adarec/sweep/run.sh under results/adarec/runs/sweep-<data>/:

1. per dataset, one row per search (beta sweep and the parameter budget) with what the search kept and
   what drove it (results/adarec/search_summary.py) and its KD-fine-tuned student's size, test NDCG@10
   and inference time, then the teacher and the beta = 4 student trained on cross-entropy alone (from
   scratch, and from the search's weights as AdaRec does);
2. scene adaptivity at beta = 4: the fraction of the 6 edges whose argmax candidate agrees, for every pair
   of search seeds on one dataset and every pair across the datasets, with the gate stated in the README
   (the datasets differ more than seeds do only if every cross-dataset pair agrees less than every
   within-dataset pair).

Fine-tuned runs are read from eval/eval.json when `kdnas adarec table` has timed them (the trade-off
figures' command, results/adarec/sweep/figures.sh), else from result.json (no time).
Usage: python3 results/adarec/sweep/table.py [RUNS]   (default results/adarec/runs)"""

import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from search_summary import summary  # noqa: E402

DATASETS = ["ml100k", "lastfm"]
SEARCHES = ["beta0", "beta1", "beta4", "beta16", "beta64", "budget300k"]
TEACHERS = {"ml100k": "ml100k/teacher", "lastfm": "sweep-lastfm/teacher"}


def report(run):
    """Size, test metrics and (when timed) inference time of a trained run, or None."""
    path = run / "eval" / "eval.json"
    if path.is_file():
        return json.loads(path.read_text())
    result = run / "result.json"
    if result.is_file():
        r = json.loads(result.read_text())
        return {"params": r["params"], "metrics": r["best_metrics"], "ms_per_1000_users": None}
    return None


def trained(r):
    if r is None:
        return "| - | - | - |"
    ms = f"{r['ms_per_1000_users']:.1f}" if r["ms_per_1000_users"] is not None else "-"
    return f"| {r['params']:,} | {r['metrics']['test_ndcg@10']:.4f} | {ms} |"


def sweep_table(runs, data):
    folder = runs / f"sweep-{data}"
    print(f"\n#### {data}: searches (seed 0) and their KD-fine-tuned students (seed 0)\n")
    print("| search | epochs | conv edges | conv weight | task+distill grad | cost grad | first epoch cost > task "
          "| params | test NDCG@10 | ms / 1,000 users | derived cell |")
    print("|---" * 11 + "|")
    for name in SEARCHES:
        s = summary(folder / f"search_{name}_s0")
        student = trained(report(folder / f"finetune_kd_{name}_s0"))
        if s is None:
            print(f"| {name} | (not finished) | | | | | | {student} |")
            continue
        print(f"| {name} | {s['epochs']} | {s['conv_edges']} of {s['edges']} | {s['conv_mass']:.3f} | "
              f"{s['task_norm']:.3f} | {s['cost_norm']:.3f} | {s['cost_over_task']} {student} `{s['cell']}` |")
    budget = folder / "search_budget300k_s0" / "budget.json"
    if budget.is_file():
        b = json.loads(budget.read_text())
        met = "met" if b["met"] else "NOT met"
        print(f"\nBudget: target {b['target_params']:,} parameters, derived student {b['derived_params']:,} ({met}).")
    print(f"\n| other runs ({data}) | params | test NDCG@10 | ms / 1,000 users |\n|---|---|---|---|")
    others = [("NextItNet teacher", runs / TEACHERS[data]),
              ("NextItNet 64 x 4 (is the teacher above it? LastFM's: 0.1915, crosscheck.md)",
               folder / "nextitnet_64x4"),
              ("beta4 student, cross-entropy only, from scratch", folder / "finetune_scratch_beta4_s0"),
              ("beta4 student, cross-entropy only, from the search's weights", folder / "finetune_search_beta4_s0")]
    for label, run in others:
        print(f"| {label} {trained(report(run))}")


def agreement(a, b):
    return sum(x == y for x, y in zip(a, b)) / len(a)


def scene_table(runs):
    argmax = {}
    for data in DATASETS:
        for seed in range(3):
            s = summary(runs / f"sweep-{data}" / f"search_beta4_s{seed}")
            if s is not None:
                argmax[(data, seed)] = s["argmax"]
    print("\n#### Scene adaptivity at beta = 4: fraction of the 6 edges whose argmax agrees\n")
    print("| pair | agreement |\n|---|---|")
    within, across = [], []
    for (ka, a), (kb, b) in itertools.combinations(sorted(argmax.items()), 2):
        value = agreement(a, b)
        (within if ka[0] == kb[0] else across).append(value)
        print(f"| {ka[0]} s{ka[1]} vs {kb[0]} s{kb[1]} | {value:.3f} |")
    if len(within) < 6 or len(across) < 9:
        print(f"\nNot all 6 searches have finished ({len(argmax)} of 6): no verdict yet.")
        return
    verdict = "differ more than seeds do" if max(across) < min(within) else "do NOT differ more than seeds do"
    print(f"\nWithin a dataset: {min(within):.3f} to {max(within):.3f}; across datasets: {min(across):.3f} to "
          f"{max(across):.3f}. By the gate stated in advance, the datasets {verdict}.")


def main():
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/adarec/runs")
    for data in DATASETS:
        sweep_table(runs, data)
    scene_table(runs)


if __name__ == "__main__":
    main()
