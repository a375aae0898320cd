#!/usr/bin/env python3
"""Prints the results/dfa tables (Markdown) from the run directories written by results/dfa/run.sh.

    python3 results/dfa/table.py [results/dfa/runs]

Accuracy is the test top-1 after the last epoch (not the best epoch), mean +- sample std over the
finished seeds; runs still missing are listed as such.
"""
import json
import statistics
import sys
from pathlib import Path

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


def load(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/dfa/runs")
    for data in sorted(p for p in root.iterdir() if p.is_dir()):
        teacher = load(data / "teacher" / "result.json")
        print(f"### {data.name}\n")
        if teacher:
            print(f"Teacher {teacher['model']} ({teacher['params']:,} parameters): "
                  f"{100 * teacher['test_acc']:.2f} % test top-1 after {teacher['epochs']} epochs.\n")
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
            spread = f" +- {statistics.stdev(accs):.2f}" if len(accs) > 1 else " (one seed)"
            per_seed = ", ".join(f"{a:.2f}" for a in accs)
            print(f"| {label} | {statistics.mean(accs):.2f}{spread} | {len(accs)} | {per_seed} |")
        print()


if __name__ == "__main__":
    main()
