#!/usr/bin/env python3
"""The synthetic AdaRec beta sweep (results/adarec/synthetic/run.sh) as a markdown table, from the run
folders under results/adarec/runs/synthetic/: per beta, the derived cell, how many of its 6 edges are
convolutions, the weight the convolutions hold at the end (mean over edges of the summed softmax weight
of the 6 convolutions), and the architecture-gradient norms of the task + distillation terms and of the
cost term (mean over the epochs after warm-up), with the first epoch at which the cost gradient is the
larger one. Usage: python3 results/adarec/synthetic/table.py [RUNS]"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from search_summary import summary  # noqa: E402

BETAS = ["0", "2", "8", "32", "128"]


def row(run, beta):
    s = summary(run)
    if s is None:
        return f"| {beta} | (not run) | | | | | |"
    return (
        f"| {beta} | {s['conv_edges']} of {s['edges']} | {s['conv_mass']:.3f} | {s['task_norm']:.3f} | "
        f"{s['cost_norm']:.3f} | {s['cost_over_task']} | `{s['cell']}` |"
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
