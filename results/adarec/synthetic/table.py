#!/usr/bin/env python3
"""The synthetic AdaRec beta sweep (results/adarec/synthetic/run.sh) as a markdown table, from the run
folders under results/adarec/runs/synthetic/: per beta, the derived cell, how many of its 6 edges are
convolutions, the weight the convolutions hold at the end (mean over edges of the summed softmax weight
of the 6 convolutions), and the architecture-gradient norms of the task + distillation terms and of the
cost term (mean over the epochs after warm-up), with the first epoch at which the cost gradient is the
larger one. Usage: python3 results/adarec/synthetic/table.py [RUNS]"""

import json
import sys
from pathlib import Path

BETAS = ["0", "2", "8", "32", "128"]


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def row(run, beta):
    genotype = run / "genotype.json"
    if not genotype.is_file():
        return f"| {beta} | (not run) | | | | | |"
    g = json.loads(genotype.read_text())
    ops = [edge["op"] for cell in g["cells"] for node in cell["nodes"] for edge in node["inputs"]]
    convs = sum("cnn" in op for op in ops)
    candidates = g["choices"][0]["candidates"]
    conv_cols = [i for i, name in enumerate(candidates) if "cnn" in name]
    weights = [c["weights"] for c in g["choices"]]
    conv_mass = sum(sum(w[i] for i in conv_cols) for w in weights) / len(weights)
    grads = [r for r in lines(run / "arch_grads.jsonl") if r["arch_moved"]]
    task = sum(r["grads"]["norm"]["task_distill"] for r in grads) / max(len(grads), 1)
    cost = sum(r["grads"]["norm"]["cost"] for r in grads) / max(len(grads), 1)
    over = [r["epoch"] + 1 for r in grads if r["grads"]["norm"]["cost"] > r["grads"]["norm"]["task_distill"]]
    cell = (run / "genotype.txt").read_text().strip()
    return (
        f"| {beta} | {convs} of {len(g['choices'])} | {conv_mass:.3f} | {task:.3f} | {cost:.3f} | "
        f"{over[0] if over else 'never'} | `{cell}` |"
    )


def main():
    runs = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("results/adarec/runs/synthetic")
    print("| beta | convolution edges | conv weight (end) | task+distill grad norm | cost grad norm | "
          "first epoch cost > task | derived cell |")
    print("|---|---|---|---|---|---|---|")
    for beta in BETAS:
        print(row(runs / f"search_beta{beta}", beta))


if __name__ == "__main__":
    main()
