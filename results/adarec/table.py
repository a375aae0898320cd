"""Prints the tables of results/adarec/README.md from the runs of results/adarec/run.sh.

Reads results/adarec/runs/<dataset>/*/eval/eval.json (written by `kdnas adarec table`, the last step of
run.sh; until then each run's result.json, without latency) and the searches' genotype.txt. Rows with fewer than 3 finished seeds say how many.
Then the sweep of the section "Search that compares ops" (results/adarec/sweep/table.py).
Run from the repository root: python3 results/adarec/table.py
"""
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "sweep"))
import table as sweep  # noqa: E402

report = sweep.report

RUNS = Path("results/adarec/runs")
METRICS = ["mrr", "hr@5", "hr@10", "hr@20", "ndcg@5", "ndcg@10", "ndcg@20"]


def cell(values, digits=4):
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main_table(data):
    runs = RUNS / data
    teacher = report(runs / "teacher")
    rows = [("NextItNet teacher", [teacher] if teacher else [])]
    for how, label in [("scratch", "derived student, no KD"), ("kd", "AdaRec student (KD)")]:
        reports = [r for s in range(3) if (r := report(runs / f"finetune_{how}_beta1_s{s}"))]
        rows.append((label, reports))
    print(f"\n#### {data}: test split, 100 sampled negatives (mean ± std over the seeds given)\n")
    print("| model | seeds | params | " + " | ".join(m.upper() for m in METRICS) + " | ms / 1,000 users | speed-up |")
    print("|---" * (len(METRICS) + 5) + "|")
    teacher_ms = teacher["ms_per_1000_users"] if teacher else None
    for label, reports in rows:
        if not reports:
            print(f"| {label} | 0 |" + " - |" * (len(METRICS) + 3))
            continue
        ms = [r["ms_per_1000_users"] for r in reports if r["ms_per_1000_users"] is not None]
        speed = cell([teacher_ms / m for m in ms], 1) + "x" if teacher_ms and ms else "-"
        metrics = " | ".join(cell([r["metrics"][f"test_{m}"] for r in reports]) for m in METRICS)
        print(f"| {label} | {len(reports)} | {reports[0]['params']:,} | {metrics} | {cell(ms, 1)} | {speed} |")


def sweep_table(data):
    runs = RUNS / data
    print(f"\n#### {data}: beta sweep (one search per beta, seed 0; KD fine-tunings, mean ± std over the seeds given)\n")
    print("| beta | seeds | params | test NDCG@10 | test HR@10 | ms / 1,000 users | derived cell |")
    print("|---|---|---|---|---|---|---|")
    for beta in ["0", "0.25", "1", "4"]:
        reports = [r for s in range(3) if (r := report(runs / f"finetune_kd_beta{beta}_s{s}"))]
        genotype = runs / f"search_beta{beta}" / "genotype.txt"
        arch = genotype.read_text().strip() if genotype.is_file() else "(not searched yet)"
        if not reports:
            print(f"| {beta} | 0 | - | - | - | - | `{arch}` |")
            continue
        ms = [r["ms_per_1000_users"] for r in reports if r["ms_per_1000_users"] is not None]
        ndcg = cell([r["metrics"]["test_ndcg@10"] for r in reports])
        hr = cell([r["metrics"]["test_hr@10"] for r in reports])
        print(f"| {beta} | {len(reports)} | {reports[0]['params']:,} | {ndcg} | {hr} | {cell(ms, 1)} | `{arch}` |")


for data in ["lastfm", "ml100k"]:
    main_table(data)
    sweep_table(data)
sweep.main()
