"""The report of a paired DFA experiment (results/dfa/run_1k.sh: cifar10-1k), printed by table.py.

One run folder per step under the experiment's folder: `teacher`, `search_s<k>` (k < SEARCH_SEEDS) and
`distill_<method>_s<seed>` (seed < SEEDS). It prints
- per method, the mean +- sample std of the test top-1 after the last epoch over the finished seeds;
- the teacher's and the student alone's accuracy and the gap between them;
- the paired differences DFA - Last and DFA - KD: per seed, then the mean and a 95 % t interval;
- per search seed, the searched weights softmax(beta) per stage (genotype.json, or while the search
  runs the last line of arch_weights.jsonl), their mean and min-max per stage, and whether every
  finished seed puts more than LAST_SHARE on the last block of every stage ("DFA is Last");
- per search seed, the search student's best end-of-epoch validation accuracy (metrics.jsonl
  `val_eval_acc`, the held-out part of the training images) against the student alone's mean test
  top-1 (the distillation runs keep no validation split), and their ratio (issue 22 item 4: >= 0.90);
- per search seed, the cosine between the bridge_ts and bridge_st gradients of each stage's beta
  (arch_grads.jsonl `row_cosine`), averaged over the epochs in which beta moved (after warm-up).
A step without a folder is "(not run)", one whose folder lacks its final file "(running)".
"""
import json
import math
import statistics

SEEDS = 4
SEARCH_SEEDS = 3
METHODS = [
    ("student", "student alone (CE)"),
    ("kd", "KD (Hinton)"),
    ("last", "Last (= overhaul)"),
    ("average", "Average (overhaul distance)"),
    ("random", "Random (overhaul distance)"),
    ("dfa", "DFA (searched, overhaul distance)"),
]
PAIRS = [("dfa", "last"), ("dfa", "kd")]
LAST_SHARE = 0.85
REQUIRED_RATIO = 0.90
# Two-sided 95 % quantiles of Student's t, t_{0.975}(df), df = 1..10.
T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228]


def load(path):
    """A JSON file's value, None when missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def load_lines(path):
    """The values of a JSON-lines file (unreadable lines skipped), [] when missing."""
    try:
        text = path.read_text()
    except OSError:
        return []
    values = []
    for line in text.splitlines():
        try:
            values.append(json.loads(line))
        except ValueError:
            pass
    return values


def state(run, done_file):
    """(value of the run's final file, None) when finished, else (None, "(running)" / "(not run)")."""
    value = load(run / done_file)
    if value is not None:
        return value, None
    return None, "(running)" if run.is_dir() else "(not run)"


def mean_std(values):
    """'mean +- std' of percentages, '(one seed)' for one value."""
    spread = f" +- {statistics.stdev(values):.2f}" if len(values) > 1 else " (one seed)"
    return f"{statistics.mean(values):.2f}{spread}"


def teacher_line(teacher):
    """The teacher's model, size and final test top-1, as one sentence."""
    return (f"Teacher {teacher['model']} ({teacher['params']:,} parameters): "
            f"{100 * teacher['test_acc']:.2f} % test top-1 after {teacher['epochs']} epochs.")


def t_interval(diffs):
    """(mean, half width of the 95 % t interval or None for one value)."""
    mean = statistics.mean(diffs)
    if len(diffs) < 2:
        return mean, None
    return mean, T_975[len(diffs) - 2] * statistics.stdev(diffs) / math.sqrt(len(diffs))


def accuracies(data):
    """{method: [test top-1 % or a state string, per seed]}."""
    table = {}
    for key, _ in METHODS:
        table[key] = []
        for seed in range(SEEDS):
            result, missing = state(data / f"distill_{key}_s{seed}", "result.json")
            table[key].append(missing or 100 * result["test_acc"])
    return table


def finished(values):
    """The accuracies of `values` (one per seed), without the state strings of unfinished seeds."""
    return [v for v in values if not isinstance(v, str)]


def print_methods(table):
    print("| method | test top-1 (%) | seeds | per seed |")
    print("|---|---|---|---|")
    for key, label in METHODS:
        done = finished(table[key])
        per_seed = ", ".join(v if isinstance(v, str) else f"{v:.2f}" for v in table[key])
        print(f"| {label} | {mean_std(done) if done else '(not run)'} | {len(done)} | {per_seed} |")
    print()


def print_gap(data, table):
    teacher, missing = state(data / "teacher", "result.json")
    student = finished(table["student"])
    if teacher is None:
        print(f"Teacher: {missing}.")
    else:
        print(teacher_line(teacher))
    if student:
        print(f"Student alone: {statistics.mean(student):.2f} % (mean of {len(student)} seeds).")
    if teacher is not None and student:
        print(f"Gap (teacher - student alone): {100 * teacher['test_acc'] - statistics.mean(student):.2f} points.")
    print()


def print_pairs(table):
    print("Paired differences (points, same seed; 95 % t interval over seeds):\n")
    for a, b in PAIRS:
        pairs = [(s, x - y) for s, (x, y) in enumerate(zip(table[a], table[b]))
                 if not isinstance(x, str) and not isinstance(y, str)]
        name = f"{dict(METHODS)[a].split()[0]} - {dict(METHODS)[b].split()[0]}"
        if not pairs:
            print(f"- {name}: (no seed has both runs)")
            continue
        mean, half = t_interval([d for _, d in pairs])
        per_seed = ", ".join(f"s{s} {d:+.2f}" for s, d in pairs)
        interval = f"[{mean - half:+.2f}, {mean + half:+.2f}]" if half is not None else "(one seed: no interval)"
        print(f"- {name}: {mean:+.2f}, 95 % CI {interval}; per seed {per_seed}")
    print()


def searched_weights(search):
    """(labels, [[weight per block] per stage], note, finished) of a search folder; weights None and
    note its state when it has none yet. Epochs are printed from 1."""
    genotype, missing = state(search, "genotype.json")
    if genotype is not None:
        epoch = genotype.get("epoch")
        note = f" (weights of epoch {epoch + 1})" if epoch is not None else ""
        return [c["label"] for c in genotype["choices"]], [c["weights"] for c in genotype["choices"]], note, True
    lines = load_lines(search / "arch_weights.jsonl")
    if not lines:
        return None, None, missing, False
    groups = lines[-1]["groups"]
    labels = [f"stage{i + 1}" for i in range(len(groups))]
    return labels, [g[0] for g in groups], f" (running: after epoch {lines[-1]['epoch'] + 1})", False


def print_weights(data):
    print("Searched aggregation weights softmax(beta) per stage (blocks 1..n):\n")
    final, labels = [], None
    for k in range(SEARCH_SEEDS):
        names, weights, note, done = searched_weights(data / f"search_s{k}")
        if weights is None:
            print(f"- search_s{k}: {note}")
            continue
        labels = names
        if done:
            final.append(weights)
        stages = "; ".join(f"{n} " + ", ".join(f"{w:.3f}" for w in ws) for n, ws in zip(names, weights))
        print(f"- search_s{k}{note}: {stages}")
    if not final:
        print()
        return
    print(f"\nOver the {len(final)} finished search seeds, mean (min-max) per block:\n")
    for i, name in enumerate(labels):
        blocks = zip(*(seed[i] for seed in final))
        print(f"- {name}: " + ", ".join(f"{statistics.mean(b):.3f} ({min(b):.3f}-{max(b):.3f})" for b in blocks))
    print()
    if len(final) < SEARCH_SEEDS:
        print(f"(whether DFA is Last is decided when all {SEARCH_SEEDS} searches have finished)\n")
    elif all(stage[-1] > LAST_SHARE for seed in final for stage in seed):
        print(f"**DFA is Last at this setting**: every search seed puts more than {LAST_SHARE} on the last "
              f"block of every stage.\n")
    else:
        below = ", ".join(f"seed {k} {labels[i]} {stage[-1]:.3f}" for k, seed in enumerate(final)
                          for i, stage in enumerate(seed) if stage[-1] <= LAST_SHARE)
        print(f"DFA is not Last at this setting: at most {LAST_SHARE} on the last block in {below}.\n")


def print_convergence(data, table):
    student = finished(table["student"])
    alone = statistics.mean(student) if student else None
    print("Search student's best validation top-1 (held-out training images) against the student alone's "
          f"test top-1 ({f'{alone:.2f} %' if alone is not None else 'not run'}); issue 22 asks for a ratio "
          f">= {REQUIRED_RATIO:.2f}:\n")
    for k in range(SEARCH_SEEDS):
        search = data / f"search_s{k}"
        epochs = [m for m in load_lines(search / "metrics.jsonl") if m.get("val_eval_acc") is not None]
        if not epochs:
            print(f"- search_s{k}: {'(running)' if search.is_dir() else '(not run)'}")
            continue
        best = max(epochs, key=lambda m: m["val_eval_acc"])
        acc = 100 * best["val_eval_acc"]
        running = "" if (search / "genotype.json").exists() else ", running"
        ratio = f", ratio {acc / alone:.3f}" if alone else ""
        print(f"- search_s{k}: {acc:.2f} % at epoch {best['epoch'] + 1} of {len(epochs)}{running}{ratio}")
    print()


def print_cosines(data):
    print("Cosine between the bridge_ts and bridge_st gradients of each stage's beta, mean over the epochs "
          "after warm-up (arch_grads.jsonl):\n")
    for k in range(SEARCH_SEEDS):
        search = data / f"search_s{k}"
        moved = [r["grads"] for r in load_lines(search / "arch_grads.jsonl")
                 if r.get("arch_moved", True) and r["grads"].get("row_cosine") is not None]
        if not moved:
            print(f"- search_s{k}: {'(running)' if search.is_dir() else '(not run)'}")
            continue
        stages = zip(*(g["row_cosine"] for g in moved))
        per_stage = ", ".join(f"stage{i + 1} {statistics.mean(rows[0] for rows in s):+.3f}"
                              for i, s in enumerate(stages))
        whole = statistics.mean(g["cosine"] for g in moved)
        print(f"- search_s{k} ({len(moved)} epochs): {per_stage}; whole gradient {whole:+.3f}")
    print()


def report(data):
    """Prints the whole report of the experiment folder `data`."""
    print(f"### {data.name}\n")
    if not data.is_dir():
        print("(not run)\n")
        return
    table = accuracies(data)
    print_gap(data, table)
    print_methods(table)
    print_pairs(table)
    print_weights(data)
    print_convergence(data, table)
    print_cosines(data)
