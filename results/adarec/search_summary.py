"""What an AdaRec search run folder says about its architecture, shared by the results tables
(results/adarec/synthetic/table.py, results/adarec/sweep/table.py): the derived cell, how many of its
edges are convolutions, the weight the convolutions hold at the derivation epoch (mean over edges of the
summed softmax weight of the convolution candidates), each edge's argmax candidate, and the
architecture-gradient norms of the task + distillation terms and of the cost term (mean over the epochs
after warm-up) with the first epoch (1-based) at which the cost gradient is the larger."""

import json


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary(run):
    """The search `run`'s summary as a dict, or None when it has no genotype yet."""
    genotype = run / "genotype.json"
    if not genotype.is_file():
        return None
    g = json.loads(genotype.read_text())
    ops = [edge["op"] for cell in g["cells"] for node in cell["nodes"] for edge in node["inputs"]]
    candidates = g["choices"][0]["candidates"]
    conv_cols = [i for i, name in enumerate(candidates) if "cnn" in name]
    weights = [c["weights"] for c in g["choices"]]
    grads = [r for r in lines(run / "arch_grads.jsonl") if r["arch_moved"]]
    norm = lambda part: sum(r["grads"]["norm"][part] for r in grads) / max(len(grads), 1)
    over = [r["epoch"] + 1 for r in grads if r["grads"]["norm"]["cost"] > r["grads"]["norm"]["task_distill"]]
    return {
        "cell": (run / "genotype.txt").read_text().strip(),
        "conv_edges": sum("cnn" in op for op in ops),
        "edges": len(weights),
        "conv_mass": sum(sum(w[i] for i in conv_cols) for w in weights) / len(weights),
        "argmax": [candidates[max(range(len(w)), key=w.__getitem__)] for w in weights],
        "task_norm": norm("task_distill"),
        "cost_norm": norm("cost"),
        "cost_over_task": over[0] if over else "never",
        "epochs": len(lines(run / "metrics.jsonl")),
    }
