#!/usr/bin/env python3
"""Prints the results/dfa tables (Markdown) from the run directories written by results/dfa/run.sh and
results/dfa/run_1k.sh.

    python3 results/dfa/table.py [RUNS [NAME ...]]

RUNS defaults to results/dfa/runs; NAMEs (e.g. cifar10-1k) print only those experiments. Accuracy is the
test top-1 after the last epoch (not the best epoch), mean +- sample std over the finished seeds; runs
still missing are listed as such. The paired experiments (PAIRED, run by run_1k.sh) get the longer
report of paired.py: paired differences, the spread of the searched weights, convergence and cosines.
"""
import sys
from pathlib import Path

from paired import load, mean_std, report, teacher_line

PAIRED = ["cifar10-1k"]

METHODS = [
    ("student", "student alone (CE)"),
    ("kd", "KD (Hinton, T=4)"),
    ("fitnet", "FitNet (hints on every stage)"),
    ("at", "AT (attention transfer)"),
    ("last", "Last (aggregation ablation)"),
    ("average", "Average (aggregation ablation)"),
    ("random", "Random (aggregation ablation)"),
    ("dfa", "DFA (searched aggregation)"),
]


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/dfa/runs")
    names = sys.argv[2:] or sorted({p.name for p in root.iterdir() if p.is_dir()} | set(PAIRED))
    for data in (root / name for name in names):
        if data.name in PAIRED:
            report(data)
            continue
        teacher = load(data / "teacher" / "result.json")
        print(f"### {data.name}\n")
        if teacher:
            print(teacher_line(teacher) + "\n")
        genotype = load(data / "search" / "genotype.json")
        if genotype:
            print("Searched aggregation weights softmax(beta) per stage (blocks 1..n):\n")
            for choice in genotype["choices"]:
                weights = ", ".join(f"{w:.3f}" for w in choice["weights"])
                print(f"- {choice['label']}: {weights}")
            print()
        print("| method | test top-1 (%) | seeds | per seed |")
        print("|---|---|---|---|")
        for key, label in METHODS:
            accs = []
            for seed in range(3):
                result = load(data / f"distill_{key}_s{seed}" / "result.json")
                if result:
                    accs.append(100 * result["test_acc"])
            if not accs:
                print(f"| {label} | (not run yet) | 0 | |")
                continue
            per_seed = ", ".join(f"{a:.2f}" for a in accs)
            print(f"| {label} | {mean_std(accs)} | {len(accs)} | {per_seed} |")
        print()


if __name__ == "__main__":
    main()
