#!/usr/bin/env python3
"""Regenerates the README's quickstart tables from the committed results/quickstart*/ folders.

Each table sits between `<!-- quickstart-table: NAME -->` and `<!-- /quickstart-table -->` in README.md
(NAME: image, dfa, adarec); everything between the two markers is rewritten, the rest of the README is
left as it is. tests/readme_quickstart.rs fails when the README's figures differ from the result files.

Usage (from the repository root): python3 scripts/readme_tables.py [--check]
  --check   write nothing; exit 1 when README.md is not what this script would write.
"""

import json
import re
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"(<!-- quickstart-table: (\w+) -->\n)(.*?)(<!-- /quickstart-table -->)", re.S)


def load(path):
    return json.loads((ROOT / path).read_text())


def lines(path):
    return [json.loads(line) for line in (ROOT / path).read_text().splitlines() if line.strip()]


def pct(fraction):
    return f"{100 * fraction:.1f} %"


def duration(seconds):
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def model_name(name):
    """`resnet14` -> `ResNet-14`."""
    match = re.fullmatch(r"resnet(\d+)", name)
    return f"ResNet-{match.group(1)}" if match else name


def spread(record):
    """max - min of every choice row's weights in an arch_weights.jsonl record."""
    rows = [row for group in record["groups"] for row in group]
    return [max(row) - min(row) for row in rows], len(rows[0])


def image_table():
    base = "results/quickstart"
    result = load(f"{base}/train/result.json")
    search = lines(f"{base}/search/metrics.jsonl")
    weights = lines(f"{base}/search/arch_weights.jsonl")
    last, per_row = spread(weights[-1])
    first, _ = spread(weights[0])
    search_seconds = sum(r["seconds"] for r in search)
    return [
        "| | |",
        "|---|---|",
        f"| derived genotype | `{result['genotype']}` |",
        f"| architecture weights | per choice row, max - min of the {per_row} weights after the search: median "
        f"{statistics.median(last):.3f} (range {min(last):.3f}-{max(last):.3f}, {len(last)} rows; uniform would be "
        f"0; after epoch 1: median {statistics.median(first):.3f}) |",
        f"| search, end of epoch {len(search)} | validation accuracy {pct(search[-1]['val_eval_acc'])} (evaluation "
        "pass over the architecture images) |",
        f"| derived network | {result['params']:,} parameters (C={result['channels']}, {result['layers']} cells) |",
        f"| test accuracy | **{pct(result['test_acc'])}** on the bundled Fashion-MNIST test images after "
        f"{result['epochs']} epochs |",
        f"| time | {duration(search_seconds + result['seconds'])} summed over epochs (search "
        f"{round(search_seconds)} s, training {round(result['seconds'])} s) |",
        "",
    ]


def dfa_table():
    base = "results/quickstart-dfa"
    teacher = load(f"{base}/teacher/result.json")
    dfa = load(f"{base}/distill_dfa/result.json")
    last = load(f"{base}/distill_last/result.json")
    search_seconds = sum(r["seconds"] for r in lines(f"{base}/search/metrics.jsonl"))
    choices = load(f"{base}/search/genotype.json")["choices"]
    stages = "; ".join(
        f"stage {i + 1}: " + ", ".join(f"{w:.3f}" for w in choice["weights"]) for i, choice in enumerate(choices)
    )
    student = model_name(dfa["model"])
    total = teacher["seconds"] + search_seconds + dfa["seconds"] + last["seconds"]
    return [
        "| | |",
        "|---|---|",
        f"| teacher {model_name(teacher['model'])} ({teacher['params']:,} parameters) | "
        f"{pct(teacher['test_acc'])} test accuracy ({round(teacher['seconds'])} s) |",
        f"| searched weights softmax(beta), blocks 1, 2 | {stages} ({round(search_seconds)} s) |",
        f"| student {student} ({dfa['params']:,}), DFA weights | {pct(dfa['test_acc'])} test accuracy "
        f"({round(dfa['seconds'])} s) |",
        f"| student {model_name(last['model'])}, Last ablation | {pct(last['test_acc'])} test accuracy "
        f"({round(last['seconds'])} s) |",
        f"| time | {duration(total)} summed over the four stages |",
        "",
    ]


def adarec_table():
    base = ROOT / "results/quickstart-adarec"
    genotype = (base / "search/genotype.txt").read_text().strip()
    table = (base / "table.md").read_text().strip().splitlines()
    return [""] + [f"    {line}" for line in [f"searched student: {genotype}"] + table] + [""]


TABLES = {"image": image_table, "dfa": dfa_table, "adarec": adarec_table}


def regenerated(text):
    def block(match):
        body = "\n".join(TABLES[match.group(2)]()) + "\n"
        return match.group(1) + body + match.group(4)

    return BLOCK.sub(block, text)


def main():
    text = README.read_text()
    found = {m.group(2) for m in BLOCK.finditer(text)}
    if found != set(TABLES):
        sys.exit(f"README.md: quickstart-table markers found for {sorted(found)}, expected {sorted(TABLES)}")
    new = regenerated(text)
    if "--check" in sys.argv[1:]:
        sys.exit(0 if new == text else "README.md's quickstart tables differ from results/quickstart*/")
    README.write_text(new)


if __name__ == "__main__":
    main()
