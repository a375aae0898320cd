"""Cross-check of kdnas's AdaRec pieces against POT, AdaRec's own code and RecBole.

Three parts (bench/crosscheck/README.md has the details):
  emd      the exact transport flow and cost of kdnas's solver (target/release/examples/emd_values) against
           POT's `ot.emd`, and the layer-mass update against AdaRec's `update_weight` written in numpy
           (Anonymous-2611/AdaRec, models/nas/kd_search.py), on random and degenerate cases;
  ranking  MRR, HR@k and NDCG@k of kdnas's evaluation functions (target/release/examples/ranking_values)
           against RecBole's `Collector` top-k matrix and its `MRR`, `Hit` and `NDCG` metric classes;
  teacher  kdnas's NextItNet teacher (`kdnas teacher train`) and RecBole's NextItNet at the same size and
           budget on LastFM, leave-one-out with 100 sampled negatives: HR@10 and NDCG@10 side by side
           (minutes of CPU; only with --teacher).
Parts emd and ranking exit with status 1 if a difference exceeds its tolerance; the teacher part reports
without a verdict (the two trainings differ by design, see the README). Status 2 on a usage error.

Usage: torchvenv/bin/python bench/crosscheck/adarec.py [--teacher [--epochs 10] [--long-epochs N]] [--lastfm PATH]
"""

import argparse
import contextlib
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import ot
import torch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "target" / "release" / "examples"
KDNAS = ROOT / "target" / "release" / "kdnas"
DEFAULT_LASTFM = ROOT.parent / "shared" / "data" / "s3rec" / "LastFM.txt"
DEFAULT_RUN_DIR = ROOT / "runs" / "crosscheck-adarec"
MASS_TEMPERATURE = 10.0  # AdaRec's emd_temperature
CUTOFFS = [1, 5, 10, 20]

# NumPy 2 removed the aliases RecBole 1.2.1 still names: np.float (its metrics) and np.float_, np.complex_,
# np.unicode_ (its Config sets np.float = np.float_ and so on). They were plain aliases of these types.
for _alias, _type in [("float", float), ("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)]:
    if not hasattr(np, _alias):
        setattr(np, _alias, _type)


def run_example(binary, doc):
    """Runs a kdnas example on one JSON document and returns its JSON answer."""
    run = subprocess.run([str(binary)], input=json.dumps(doc), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"{binary} failed ({run.returncode}): {run.stderr.strip()}")
    return json.loads(run.stdout)


class Table:
    """A markdown table whose rows may carry (difference, tolerance) checks."""

    def __init__(self, header):
        self.failures, self.worst_ratio = 0, 0.0
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))

    def row(self, cells, checks=()):
        """Prints a row; it fails when a difference of `checks` is above its tolerance (or NaN)."""
        failed = False
        for diff, tolerance in checks:
            ok = diff <= tolerance
            self.worst_ratio = max(self.worst_ratio, diff / tolerance if ok else math.inf)
            failed |= not ok
        self.failures += failed
        print("| " + " | ".join(cells) + (" **FAIL**" if failed else "") + " |")


# --- (a) EMD: POT's exact flow and AdaRec's mass update ---


def adarec_update(supply, demand, flow, cost, reverse):
    """AdaRec's `update_weight` (models/nas/kd_search.py) as written, on its (M+N) x (M+N) problem: the
    student histogram in the first M bins, the teacher's in the last N, `cost` in the student-to-teacher
    block and `reverse` (transposed) in the teacher-to-student block of `d_np`; `flow` goes into the same
    student-to-teacher block of the transfer matrix. Returns the new (student, teacher) masses; a side whose
    update divides 0 by 0 (a zero mass) comes back as NaN, as AdaRec's would."""
    m, n = cost.shape
    d_np = np.zeros((m + n, m + n))
    d_np[:m, m:] = cost
    d_np[m:, :m] = reverse.T
    transfer_matrix = np.zeros((m + n, m + n))
    transfer_matrix[:m, m:] = flow

    def np_softmax(x):
        e_x = np.exp(x - np.max(x))
        return e_x / e_x.sum(axis=0)

    def update_weight(weight, t_mat, num_layers, bias=0):
        transfer_weight = np.sum(t_mat * d_np, -1)
        for idx in range(num_layers):
            weight[idx] = transfer_weight[idx + bias] / weight[idx]
        weight_sum = np.sum(weight)
        for idx in range(num_layers):
            if weight[idx] != 0:
                weight[idx] = weight_sum / weight[idx]
        return np_softmax(weight / MASS_TEMPERATURE)

    with np.errstate(divide="ignore", invalid="ignore"):
        student = update_weight(np.array(supply, dtype=np.float64), transfer_matrix, m)
        teacher = update_weight(np.array(demand, dtype=np.float64), np.transpose(transfer_matrix), n, bias=m)
    return student, teacher


def unique_flow(cost, u, v, tol):
    """Whether POT's duals certify a unique optimal flow: the cells of zero reduced cost are exactly a
    spanning tree of rows and columns (m + n - 1 cells, connected), which every optimal flow must live on
    and which fixes the flow from the marginals."""
    m, n = cost.shape
    tight = np.argwhere(np.abs(cost - u[:, None] - v[None, :]) <= tol)
    if len(tight) != m + n - 1:
        return False
    parent = list(range(m + n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in tight:
        ri, rj = find(i), find(m + j)
        if ri == rj:
            return False
        parent[ri] = rj
    return True


def f32(x):
    """float32 values as float64 (what kdnas's training path sees exactly)."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def dirichlet(rng, k):
    """Random masses summing to 1."""
    return rng.dirichlet(np.ones(k))


def emd_cases():
    """(name, supply, demand, cost, reverse or None): AdaRec's 4 x 8 and other sizes, degenerate masses and
    ties in the ground distance. Costs are float32 values so kdnas's f32 loss sees the same matrix."""
    rng = np.random.default_rng(0)
    cases = []
    for seed in range(4):  # AdaRec: 4 student cells, 8 teacher blocks; uniform start, then random masses
        supply = np.full(4, 0.25) if seed == 0 else dirichlet(rng, 4)
        demand = np.full(8, 0.125) if seed == 0 else dirichlet(rng, 8)
        cases.append((f"4x8 random #{seed}", supply, demand, f32(rng.gamma(2.0, 1.0, (4, 8))), None))
    cases.append(("4x8 reversed KL side", dirichlet(rng, 4), dirichlet(rng, 8), f32(rng.gamma(2.0, 1.0, (4, 8))),
                  f32(rng.gamma(2.0, 1.0, (4, 8)))))
    cases.append(("2x3 random", dirichlet(rng, 2), dirichlet(rng, 3), f32(rng.random((2, 3))), None))
    cases.append(("6x6 random", dirichlet(rng, 6), dirichlet(rng, 6), f32(rng.gamma(2.0, 1.0, (6, 6))), None))
    cases.append(("6x6 signed costs (solver only)", dirichlet(rng, 6), dirichlet(rng, 6), f32(rng.normal(0, 1, (6, 6))),
                  None))
    cases.append(("6x6 uniform masses (degenerate staircase)", np.full(6, 1 / 6), np.full(6, 1 / 6),
                  f32(rng.random((6, 6))), None))
    cases.append(("4x8 one-hot supply", np.eye(4)[2], dirichlet(rng, 8), f32(rng.random((4, 8))), None))
    cases.append(("4x8 zero masses", np.array([0.5, 0.0, 0.3, 0.2]), np.array([0.2, 0.0, 0.1, 0.1, 0.0, 0.3, 0.2, 0.1]),
                  f32(rng.random((4, 8))), None))
    cases.append(("4x8 ties: constant D", np.full(4, 0.25), np.full(8, 0.125), np.full((4, 8), 0.5), None))
    cases.append(("4x8 ties: D in {1,2,3}", dirichlet(rng, 4), dirichlet(rng, 8),
                  rng.integers(1, 4, (4, 8)).astype(np.float64), None))
    tied = f32(rng.random((4, 8)))
    tied[1] = tied[0]
    tied[:, 5] = tied[:, 4]
    tied[3] = 0.0  # a student layer at distance 0 from every teacher layer: AdaRec's zero-cost score 0
    cases.append(("4x8 ties: repeated row/column, zero row", np.full(4, 0.25), np.full(8, 0.125), tied, None))
    cases.append(("6x6 ties: D = abs(i - j) (many optima)", dirichlet(rng, 6), dirichlet(rng, 6),
                  np.abs(np.subtract.outer(np.arange(6), np.arange(6))).astype(np.float64), None))
    return cases


def emd_reference(supply, demand, cost, reverse, kd):
    """POT's optimum and AdaRec's update on kdnas's flow, compared with kdnas's values `kd`: a dict of the
    values and differences (costs relative to max |D|, the loss relative to its value) for the table row.
    Without `reverse` the teacher side of the update weighs the flow with `cost`, as the example does."""
    reverse = cost if reverse is None else reverse
    a, b = np.asarray(supply, np.float64), np.asarray(demand, np.float64)
    flow_pot, log = ot.emd(a, b, cost, log=True)
    scale = max(np.abs(cost).max(), 1e-300)
    flow_kd = np.array(kd["flow"])
    # The solver rescales the demands to the supply total; both sum to 1 here up to rounding.
    marginal = max(np.abs(flow_kd.sum(1) - a).max(), np.abs(flow_kd.sum(0) - b).max(), -flow_kd.min(), 0.0)
    cost_diff = abs(kd["cost"] - log["cost"]) / scale
    recomputed = abs((flow_kd * cost).sum() - kd["cost"]) / scale
    unique = unique_flow(cost, log["u"], log["v"], 1e-9 * scale)
    flow_diff = np.abs(flow_kd - flow_pot).max()
    # AdaRec's own (M+N) x (M+N) problem, solved by POT, has the same optimum.
    m, n = cost.shape
    big = np.zeros((m + n, m + n))
    big[:m, m:], big[m:, :m] = cost, reverse.T
    hist_s, hist_t = np.concatenate([a, np.zeros(n)]), np.concatenate([np.zeros(m), b])
    extended_diff = abs(ot.emd2(hist_s, hist_t, big) - log["cost"]) / scale
    normalised = log["cost"] / flow_pot.sum()
    loss_diff = abs(kd["loss"] - normalised) / max(abs(normalised), 1e-30)

    ref_s, ref_t = adarec_update(a, b, flow_kd, cost, reverse)
    mass_diffs, mass_note = [], []
    for side, ours, ref in [("student", kd["student_masses"], ref_s), ("teacher", kd["teacher_masses"], ref_t)]:
        if cost.min() < 0:
            # kdnas counts a negative transport cost as 0 (its distances are clamped at 0, as KL >= 0)
            mass_note.append(f"{side}: negative costs, outside both domains")
        elif np.all(np.isfinite(ref)):
            mass_diffs.append(np.abs(np.array(ours) - ref).max())
        else:
            mass_note.append(f"{side}: AdaRec 0/0")
    mass_diff = max(mass_diffs) if mass_diffs else None
    return {
        "cost": (kd["cost"], log["cost"], cost_diff),
        "flow": (flow_diff, marginal, recomputed, unique),
        "extended": extended_diff,
        "loss": (kd["loss"], normalised, loss_diff),
        "masses": (mass_diff, ", ".join(mass_note)),
    }


def emd_part(binary, tolerance, loss_tolerance):
    """Part (a): prints the EMD table and returns the table."""
    cases = emd_cases()
    doc = {"cases": []}
    for _, supply, demand, cost, reverse in cases:
        case = {"supply": list(map(float, supply)), "demand": list(map(float, demand)), "cost": cost.tolist()}
        if reverse is not None:
            case["reverse"] = reverse.tolist()
        doc["cases"].append(case)
    answers = run_example(binary, doc)["cases"]

    print("### EMD: kdnas `solve_transport` / `emd_loss` / `LayerMasses::update` vs POT `ot.emd` and AdaRec\n")
    table = Table(["case", "kdnas cost", "POT cost", "cost diff", "flow", "AdaRec (M+N) cost diff",
                   "loss (f32) rel diff", "masses max diff"])
    for (name, supply, demand, cost, reverse), kd in zip(cases, answers):
        r = emd_reference(supply, demand, cost, reverse, kd)
        ours, pot, cost_diff = r["cost"]
        flow_diff, marginal, recomputed, unique = r["flow"]
        flow_cell = f"unique, max diff {flow_diff:.1e}" if unique else f"not unique (max diff {flow_diff:.1e})"
        flow_cell += f"; marginals {marginal:.1e}"
        mass_diff, mass_note = r["masses"]
        mass_cell = (f"{mass_diff:.1e}" if mass_diff is not None else "n/a") + (f" ({mass_note})" if mass_note else "")
        compared = (cost_diff, marginal, recomputed, r["extended"], flow_diff if unique else None, mass_diff)
        checks = [(d, tolerance) for d in compared if d is not None]
        cells = [name, f"{ours:.12g}", f"{pot:.12g}", f"{cost_diff:.1e}", flow_cell, f"{r['extended']:.1e}",
                 f"{r['loss'][2]:.1e}", mass_cell]
        table.row(cells, checks + [(r["loss"][2], loss_tolerance)])
    chained = chained_updates(binary)
    table.row(["4x8, 20 chained steps, masses carried", "", "", "", "", "", "", f"{chained:.1e}"],
              [(chained, tolerance)])
    print()
    return table


def chained_updates(binary, steps=20):
    """20 steps of a 4 x 8 mapping, each with a fresh random D: kdnas's masses carried by kdnas, AdaRec's by
    POT's flow and AdaRec's update. Returns the largest mass difference after any step."""
    rng = np.random.default_rng(7)
    ours = (np.full(4, 0.25), np.full(8, 0.125))
    ref = (np.full(4, 0.25), np.full(8, 0.125))
    worst = 0.0
    for _ in range(steps):
        cost, reverse = f32(rng.gamma(2.0, 1.0, (4, 8))), f32(rng.gamma(2.0, 1.0, (4, 8)))
        case = {"supply": ours[0].tolist(), "demand": ours[1].tolist(), "cost": cost.tolist(),
                "reverse": reverse.tolist()}
        kd = run_example(binary, {"cases": [case]})["cases"][0]
        ours = (np.array(kd["student_masses"]), np.array(kd["teacher_masses"]))
        flow = ot.emd(ref[0], ref[1] * ref[0].sum() / ref[1].sum(), cost)
        ref = adarec_update(ref[0], ref[1], flow, cost, reverse)
        worst = max(worst, np.abs(ours[0] - ref[0]).max(), np.abs(ours[1] - ref[1]).max())
    return worst


# --- (b) ranking metrics: RecBole's Collector and metric classes ---


def recbole_metrics(scores, positive_col, masked=None):
    """RecBole 1.2.1's ranking metrics of `scores` [users, columns] with one positive per user at
    `positive_col`: `masked` (bool [users, columns]) cells get -inf first, as RecBole's full-sort evaluation
    does with padding and history items. Uses RecBole's `Collector.eval_batch_collect` (torch.topk, then
    the positive's flags in the top k) and its `MRR`, `Hit` and `NDCG` classes; MRR is MRR@columns (not
    truncated). Returns ({name: value}, ranks: the positive's 1-based place in RecBole's top list)."""
    from recbole.evaluator.collector import Collector
    from recbole.evaluator.metrics import MRR, NDCG, Hit

    scores = torch.tensor(scores, dtype=torch.float32)
    if masked is not None:
        scores = scores.masked_fill(torch.tensor(masked), -math.inf)
    users, columns = scores.shape
    config = {"metrics": ["MRR", "Hit", "NDCG"], "topk": CUTOFFS + [columns], "eval_args": {"mode": "uni100"},
              "device": torch.device("cpu"), "metric_decimal_place": 17}
    collector = Collector(config)
    positive_i = torch.tensor(positive_col, dtype=torch.long)
    collector.eval_batch_collect(scores, None, torch.arange(users), positive_i)
    struct = collector.get_data_struct()
    values = {}
    for cls in (MRR, Hit, NDCG):
        values.update(cls(config).calculate_metric(struct))
    named = {"mrr": values[f"mrr@{columns}"]}
    for k in CUTOFFS:
        named[f"hr@{k}"] = values[f"hit@{k}"]
        named[f"ndcg@{k}"] = values[f"ndcg@{k}"]
    flags = struct.get("rec.topk")[:, :columns].numpy()
    ranks = (flags.argmax(axis=1) + 1).tolist()
    return named, ranks


def ranking_cases():
    """(name, kind, kdnas case, reference inputs, exact?). Sampled: 1 + 100 candidates, the positive first,
    boosted by U(0, 4) so that its ranks spread over 1..101. Full: 400 items + padding, random targets and
    histories (some holding the target). Ties: scores rounded to one decimal, and a constant scorer."""
    rng = np.random.default_rng(1)
    cases = []
    for users in (300, 7):
        s = rng.normal(0, 1, (users, 101)).astype(np.float32)
        s[:, 0] += rng.uniform(0, 4, users).astype(np.float32)
        s = without_ties(s)
        sampled = {"sampled": {"scores": s.tolist()}}
        cases.append((f"sampled {users} users x 101, no ties", sampled, (s, [0] * users, None), True))
    users, items = 200, 400
    s = rng.normal(0, 1, (users, items + 1)).astype(np.float32)
    targets = rng.integers(1, items + 1, users)
    s[np.arange(users), targets] += rng.uniform(0, 3.5, users).astype(np.float32)
    s = without_ties(s)
    histories, masked = [], np.zeros((users, items + 1), dtype=bool)
    masked[:, 0] = True
    for u in range(users):
        h = rng.choice(np.arange(1, items + 1), rng.integers(0, 40), replace=False).tolist()
        if u % 5 == 0:
            h.append(int(targets[u]))  # a repeated item: the target stays ranked
        histories.append(h)
        masked[u, [i for i in h if i != targets[u]]] = True
    full = {"full": {"scores": s.tolist(), "targets": targets.tolist(), "histories": histories}}
    cases.append((f"full {users} users x {items} items, history masked, no ties", full, (s, targets.tolist(), masked),
                   True))
    s = np.round(rng.normal(0, 1, (300, 101)), 1).astype(np.float32)
    s[:, 0] = np.round(s[:, 0] + rng.uniform(0, 3, 300), 1)
    s[-1] = 0.5  # a constant scorer: kdnas ranks its positive last
    cases.append(("sampled 300 users x 101, ties (one decimal), one constant row", {"sampled": {"scores": s.tolist()}},
                  (s, [0] * 300, None), False))
    return cases


def without_ties(s):
    """`s` unchanged, after checking that no row holds a tie (the exact comparison needs none)."""
    if any(len(np.unique(row)) != len(row) for row in s):
        raise RuntimeError("a float32 draw holds a tie: change the seed")
    return s


def ranking_part(binary, tolerance):
    """Part (b): prints the ranking table and returns the table."""
    cases = ranking_cases()
    answers = run_example(binary, {"cases": [c[1] for c in cases]})["cases"]
    print("### Ranking metrics: kdnas `sampled_ranks` / `full_ranks` / `RankingMetrics` vs RecBole\n")
    names = ["mrr"] + [f"{m}@{k}" for m in ("hr", "ndcg") for k in CUTOFFS]
    table = Table(["case", "metric", "kdnas", "RecBole", "abs diff", "note"])
    for (name, _, (scores, positive, masked), exact), kd in zip(cases, answers):
        ref, ref_ranks = recbole_metrics(scores, positive, masked)
        same = kd["ranks"] == kd["host_ranks"]
        table.row([name, "ranks: device = host `rank_of`", str(same), "", "", ""], [(0.0 if same else math.inf, 1)])
        if exact:
            same = kd["ranks"] == ref_ranks
            table.row([name, "ranks = place in RecBole's top list", str(same), "", "", ""],
                      [(0.0 if same else math.inf, 1)])
        else:
            optimistic = [1 + int((row > row[p]).sum()) for row, p in zip(scores, positive)]
            between = all(o <= r <= k for o, r, k in zip(optimistic, ref_ranks, kd["ranks"]))
            higher = sum(r < k for r, k in zip(ref_ranks, kd["ranks"]))
            first = sum(r == o for r, o in zip(ref_ranks, optimistic))
            table.row([name, "ranks: optimistic <= RecBole <= kdnas", str(between), "", "",
                       f"RecBole places {higher} of {len(ref_ranks)} positives higher than kdnas; {first} at the "
                       f"optimistic place; constant row: kdnas {kd['ranks'][-1]}, RecBole {ref_ranks[-1]}"],
                      [(0.0 if between else math.inf, 1)])
        for metric in names:
            diff = abs(kd["metrics"][metric] - ref[metric])
            note = "" if exact else "ties: not compared (pessimistic vs torch.topk order)"
            table.row([name, metric, f"{kd['metrics'][metric]:.10f}", f"{ref[metric]:.10f}", f"{diff:.1e}", note],
                      [(diff, tolerance)] if exact else [])
    print()
    return table


# --- (c) the NextItNet teacher: kdnas against RecBole on LastFM ---

# Shared by both sides: AdaRec's teacher at examples/adarec/teacher.toml's size, with a constant learning
# rate (RecBole has no schedule).
TEACHER = {"dim": 64, "blocks": 4, "dilations": [1, 4], "kernel": 3, "max_len": 30, "negatives": 100,
           "batch_size": 64, "lr": 0.003, "grad_clip": 5.0}


def read_lines_file(path):
    """An S3Rec `lines` file as {user: [items in order]}."""
    users = {}
    for line in Path(path).read_text().splitlines():
        fields = line.split()
        if fields:
            users[fields[0]] = fields[1:]
    return users


def kdnas_teacher(lastfm, run_dir, epochs, seed):
    """Trains kdnas's teacher with `kdnas teacher train`; returns its summary and the CPU seconds used."""
    config = run_dir / f"kdnas-e{epochs}.toml"
    t = TEACHER
    config.write_text(f"""seed = {seed}

[task]
kind = "adarec"

[data]
path = "{Path(lastfm).resolve()}"
format = "lines"
max_len = {t['max_len']}
negatives = {t['negatives']}

[model]
dim = {t['dim']}
blocks = {t['blocks']}
dilations = {t['dilations']}
kernel = {t['kernel']}

[train]
epochs = {epochs}
batch_size = {t['batch_size']}
optimizer = "adam"
lr = {t['lr']}
lr_min = {t['lr']}
weight_decay = 0.0
grad_clip = {t['grad_clip']}
augment = false
""")
    out = run_dir / f"kdnas-e{epochs}"
    before = _children_cpu()
    subprocess.run([str(KDNAS), "teacher", "train", "--config", str(config), "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    return json.loads((out / "result.json").read_text()), _children_cpu() - before


def _children_cpu():
    """CPU seconds (user + system) of finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def recbole_teacher(lastfm, run_dir, epochs, seed):
    """Trains RecBole's NextItNet on the same sequences (written as an atomic `.inter` file with the
    position as timestamp), picks the epoch with the best validation NDCG@10 and tests it. Returns
    (summary dict, CPU seconds)."""
    data = run_dir / "recbole-data"
    (data / "lastfm").mkdir(parents=True, exist_ok=True)
    with open(data / "lastfm" / "lastfm.inter", "w") as f:
        f.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for user, items in read_lines_file(lastfm).items():
            f.writelines(f"{user}\t{item}\t{t}\n" for t, item in enumerate(items))
    t = TEACHER
    config_dict = {
        "data_path": str(data), "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": t["max_len"],
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "group_by": "user", "mode": "uni100"},
        "metrics": ["MRR", "Hit", "NDCG"], "topk": CUTOFFS, "valid_metric": "NDCG@10", "metric_decimal_place": 6,
        "train_batch_size": t["batch_size"], "eval_batch_size": 4096, "learning_rate": t["lr"],
        "epochs": epochs, "stopping_step": epochs + 1, "train_neg_sample_args": None, "loss_type": "CE",
        "embedding_size": t["dim"], "block_num": t["blocks"] // len(t["dilations"]), "dilations": t["dilations"],
        "kernel_size": t["kernel"], "reg_weight": 0.0, "weight_decay": 0.0,
        "clip_grad_norm": {"max_norm": t["grad_clip"], "norm_type": 2}, "seed": seed, "reproducibility": False,
        "use_gpu": False, "device": "cpu", "checkpoint_dir": str(run_dir / "recbole-saved"), "show_progress": False,
        "save_dataset": False, "save_dataloaders": False,
    }
    start = time.process_time()
    with contextlib.chdir(run_dir):  # RecBole writes log_tensorboard/ into the working directory
        summary = _fit_recbole(config_dict)
    return summary, time.process_time() - start


def _fit_recbole(config_dict):
    """RecBole's NextItNet trained and tested as `run_recbole` would, without its `ray` import."""
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import NextItNet
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    config = Config(model="NextItNet", dataset="lastfm", config_dict=config_dict)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train, valid, test = data_preparation(config, dataset)
    init_seed(config["seed"] + config["local_rank"], config["reproducibility"])
    model = NextItNet(config, train.dataset)
    trainer = Trainer(config, model)
    history = []
    trainer.fit(train, valid, saved=True, show_progress=False,
                callback_fn=lambda epoch, score: history.append((epoch, score)))
    # RecBole's own load_best_model uses torch.load's default weights_only=True, which torch >= 2.6 refuses
    # for its checkpoint: load the file RecBole just wrote ourselves.
    checkpoint = torch.load(trainer.saved_model_file, map_location="cpu", weights_only=False)
    model.load_state_dict(checkpoint["state_dict"])
    valid_result = trainer.evaluate(valid, load_best_model=False, show_progress=False)
    test_result = trainer.evaluate(test, load_best_model=False, show_progress=False)
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "users": dataset.user_num - 1, "items": dataset.item_num - 1, "train_examples": len(train.dataset),
        "best_epoch": checkpoint["epoch"], "valid": dict(valid_result), "test": dict(test_result),
        "valid_history": history,
    }


def kdnas_targets(lastfm, max_len):
    """Training targets of one kdnas epoch: per user the last `max_len` next-item pairs of its training
    sequence (all but the last two items)."""
    return sum(min(len(items) - 3, max_len) for items in read_lines_file(lastfm).values() if len(items) >= 4)


def popularity_baseline(lastfm, seed, negatives=100):
    """Test HR@10 and NDCG@10 of ranking by training-set popularity (every item but each user's last two),
    under the same protocol: the test item among 100 negatives drawn uniformly from the items the user never
    saw, pessimistic ties. A floor that shows what the teachers learned beyond item counts."""
    users = read_lines_file(lastfm)
    items = sorted({i for seq in users.values() for i in seq})
    counts = {i: 0 for i in items}
    for seq in users.values():
        for i in seq[:-2]:
            counts[i] += 1
    rng = np.random.default_rng(seed)
    hits, ndcg = [], []
    for seq in users.values():
        seen = set(seq)
        pool = [i for i in items if i not in seen]
        candidates = [seq[-1]] + [pool[k] for k in rng.choice(len(pool), negatives, replace=False)]
        scores = np.array([counts[i] for i in candidates])
        rank = 1 + int((scores[1:] >= scores[0]).sum())
        hits.append(rank <= 10)
        ndcg.append(1 / math.log2(rank + 1) if rank <= 10 else 0.0)
    return float(np.mean(hits)), float(np.mean(ndcg))


def teacher_part(lastfm, run_dir, epochs, long_epochs, seed):
    """Part (c): trains both teachers and prints them side by side."""
    run_dir = run_dir.resolve() / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True)
    torch.set_num_threads(1)  # two threads on the shared 2-core machine spin: 7x the CPU time per step
    rows = []
    for e in [epochs] + ([long_epochs] if long_epochs else []):
        kd, cpu = kdnas_teacher(lastfm, run_dir, e, seed)
        m = kd["best_metrics"]
        users = sum(len(items) >= 4 for items in read_lines_file(lastfm).values())  # >= 1 training pair
        steps = math.ceil(users / TEACHER["batch_size"])
        rows.append([f"kdnas NextItNet ({kd['model']}, ReZero blocks)", f"{kd['params']:,}", str(e),
                     f"{steps} x {TEACHER['batch_size']} sequences ({kdnas_targets(lastfm, TEACHER['max_len']):,} "
                     f"targets)", str(kd["best_epoch"]), f"{m['valid_ndcg@10']:.4f}", f"{m['test_hr@10']:.4f}",
                     f"{m['test_ndcg@10']:.4f}", f"{cpu:.0f}"])
    rb, cpu = recbole_teacher(lastfm, run_dir, epochs, seed)
    steps = math.ceil(rb["train_examples"] / TEACHER["batch_size"])
    rows.insert(1, [f"RecBole 1.2.1 NextItNet (residual block b, block_num {TEACHER['blocks'] // 2} x dilations "
                    f"{TEACHER['dilations']})", f"{rb['params']:,}", str(epochs),
                    f"{steps} x {TEACHER['batch_size']} prefixes ({rb['train_examples']:,} targets)",
                    str(rb["best_epoch"]), f"{rb['valid']['ndcg@10']:.4f}", f"{rb['test']['hit@10']:.4f}",
                    f"{rb['test']['ndcg@10']:.4f}", f"{cpu:.0f}"])
    hr, ndcg = popularity_baseline(lastfm, seed)
    rows.append(["most popular item first (training counts; floor)", "0", "", "", "", "", f"{hr:.4f}", f"{ndcg:.4f}",
                 ""])
    print("### NextItNet teacher on LastFM, leave-one-out, 1 + 100 sampled candidates\n")
    table = Table(["model", "params", "epochs", "steps per epoch", "best epoch (valid NDCG@10)", "valid NDCG@10",
                   "test HR@10", "test NDCG@10", "CPU s"])
    for row in rows:
        table.row(row)
    print(f"\nRecBole validation NDCG@10 per epoch: "
          + ", ".join(f"{s:.4f}" for _, s in rb["valid_history"]))
    print(f"RecBole read {rb['users']:,} users and {rb['items']:,} items; test: "
          + ", ".join(f"{k} {v:.4f}" for k, v in rb["test"].items()))
    print(f"runs in {run_dir}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="folder of the built examples")
    parser.add_argument("--tolerance", type=float, default=1e-9,
                        help="largest accepted difference of the f64 EMD values and the ranking metrics")
    parser.add_argument("--loss-tolerance", type=float, default=1e-6,
                        help="largest accepted relative difference of the f32 EMD loss")
    parser.add_argument("--teacher", action="store_true", help="also train the two teachers (minutes)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of both teachers")
    parser.add_argument("--long-epochs", type=int, default=0,
                        help="also train kdnas's teacher for this many epochs (its CPU time matched to RecBole's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of both teachers")
    parser.add_argument("--lastfm", type=Path, default=DEFAULT_LASTFM, help="S3Rec's LastFM.txt")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR, help="where the teacher runs go")
    args = parser.parse_args()
    needed = [args.examples / "emd_values", args.examples / "ranking_values"] + ([KDNAS] if args.teacher else [])
    missing = [p for p in needed if not p.is_file()]
    if missing or (args.teacher and not args.lastfm.is_file()):
        print(f"missing: {', '.join(map(str, missing)) or args.lastfm}: run `cargo build --release --example "
              "emd_values --example ranking_values` (and `cargo build --release` for --teacher)", file=sys.stderr)
        return 2

    emd = emd_part(args.examples / "emd_values", args.tolerance, args.loss_tolerance)
    ranking = ranking_part(args.examples / "ranking_values", args.tolerance)
    failures = emd.failures + ranking.failures
    worst = max(emd.worst_ratio, ranking.worst_ratio)
    print(f"{failures} rows above tolerance; the largest difference is {worst:.2g} of its tolerance")
    import recbole

    print(f"POT {ot.__version__}, RecBole {recbole.__version__}, torch {torch.__version__}, numpy {np.__version__}\n")
    if args.teacher:
        teacher_part(args.lastfm, args.run_dir, args.epochs, args.long_epochs, args.seed)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
