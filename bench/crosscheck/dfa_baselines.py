"""PyTorch baselines for results/dfa at kdnas's budget: a ResNet-20 teacher and a ResNet-8 student alone and with KD.

Trains, on the Fashion-MNIST subset of results/dfa/fmnist/*.toml, the same models with the same data,
augmentation, optimiser and schedule as kdnas (bench/crosscheck/README.md lists what matches and what
cannot), so that results/dfa/README.md can say whether kdnas's baselines land where PyTorch's do:

  data      the first 300 training images of each class (file order), the full 10,000-image test set,
            (x / 255 - 0.2860) / 0.3530; training batches random-crop 28 with padding 4 (raw 0 fill) and
            flip horizontally with probability 1/2
  models    CIFAR ResNet-20 / ResNet-8 (16/32/64 channels, option-B 1x1 conv + BN shortcuts), kaiming-normal
            fan_out convolutions, BN 1/0, nn.Linear's default classifier
  training  15 epochs of shuffled batches of 64 (the last one partial), SGD lr 0.05 momentum 0.9 dampening 0
            weight decay 5e-4 on every parameter, cosine from 0.05 to 0 stepped per epoch, no clipping
  losses    student alone: CE; KD: 0.1 CE + 0.9 T^2 KL(p_t || p_s) (batch mean) at T = 4 from the frozen
            (evaluation-mode) PyTorch teacher on the same augmented batch

Runs: the teacher (seed 0), then the student alone and with KD for seeds 0, 1, 2. Each finished run writes
<out>/<run>.json (test top-1 after the last epoch as `test_acc`, as kdnas's result.json, plus the best
epoch and per-epoch records); the teacher also writes <out>/teacher_s0.pt. A restart skips finished runs and
continues an unfinished one from its last epoch (<out>/<run>.checkpoint.pt).
At the end (or with --table alone) it prints the comparison table against kdnas's results/dfa/runs/fmnist.

Usage: torchvenv/bin/python bench/crosscheck/dfa_baselines.py [--threads 2] [--epochs 15] [--quick]
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fashion-mnist"
DEFAULT_KDNAS_RUNS = ROOT / "runs" / "results-dfa" / "fmnist"

MEAN, STD = 0.2860, 0.3530  # kdnas's FASHION_MNIST_NORMALIZATION
CLASSES = 10
PER_CLASS = 300  # data.limit_train_per_class
QUICK_PER_CLASS = 20
PAD = 4  # train.augment: crop with padding 4, then flip
BATCH, LR, MOMENTUM, WEIGHT_DECAY = 64, 0.05, 0.9, 5e-4
EVAL_BATCH = 256
KD_CE_WEIGHT, KD_WEIGHT, KD_TEMPERATURE = 0.1, 0.9, 4.0
TEACHER_DEPTH, STUDENT_DEPTH = 20, 8
# kdnas's parameter counts (results/dfa/runs/fmnist/*/result.json): the architectures must agree.
KDNAS_PARAMS = {20: 272_186, 8: 77_754}
SEEDS = (0, 1, 2)
METHODS = [("student", "student alone (CE)"), ("kd", "KD (Hinton, T=4)")]


# --- data: IDX files, kdnas's per-class prefix, normalisation and augmentation ---


def read_idx(path, magic):
    """The payload of a gzip IDX file as a uint8 array shaped by its header."""
    data = gzip.decompress(path.read_bytes())
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        sys.exit(f"{path}: expected IDX magic 0x{magic:08x}, found 0x{found:08x}")
    rank = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_split(folder, stem_images, stem_labels, per_class):
    """Normalised images [n, 1, 28, 28] (float32 tensor) and labels [n] (int64), keeping the first
    `per_class` of each class in file order when given (kdnas's `stratified_prefix`)."""
    images = read_idx(folder / f"{stem_images}.gz", 0x0803)
    labels = read_idx(folder / f"{stem_labels}.gz", 0x0801)
    if per_class is not None:
        taken = [0] * CLASSES
        keep = []
        for i, label in enumerate(labels):
            if taken[label] < per_class:
                taken[label] += 1
                keep.append(i)
        images, labels = images[keep], labels[keep]
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - MEAN) / STD
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def augment(images, rng):
    """torchvision's RandomCrop(size, padding=4) + RandomHorizontalFlip() on normalised images [n, 1, h, w]:
    the padding is the normalised value of a raw 0 pixel, as padding the raw image before normalising."""
    n, _, h, w = images.shape
    padded = F.pad(images, (PAD, PAD, PAD, PAD), value=-MEAN / STD)  # [n, 1, h + 8, w + 8]
    offsets = rng.integers(0, 2 * PAD + 1, size=(n, 2))
    flips = rng.random(n) < 0.5
    out = torch.empty_like(images)
    for i, ((dy, dx), flip) in enumerate(zip(offsets, flips)):
        crop = padded[i, :, dy : dy + h, dx : dx + w]
        out[i] = crop.flip(-1) if flip else crop
    return out


# --- models: kdnas's CIFAR ResNet (src/models/resnet.rs, blocks.rs, residual.rs) ---


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut a 1x1 conv + BN when the shape changes."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """He et al.'s ResNet of depth 6n+2: 3x3 stem to 16 channels + BN + ReLU, stages of n blocks of 16, 32, 64
    channels (stride 2 at the start of stages 2 and 3), global average pool, linear classifier."""

    def __init__(self, depth, in_channels=1, classes=CLASSES):
        super().__init__()
        blocks = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        layers, c_in = [], 16
        for stage, c_out in enumerate((16, 32, 64)):
            for block in range(blocks):
                layers.append(BasicBlock(c_in, c_out, 2 if stage > 0 and block == 0 else 1))
                c_in = c_out
        self.stages = nn.Sequential(*layers)
        self.classifier = nn.Linear(64, classes)  # PyTorch's default init, as kdnas's Classifier
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.stages(self.stem(x))  # [n, 64, h / 4, w / 4]
        return self.classifier(x.mean(dim=(2, 3)))


# --- training and evaluation ---


def kd_objective(logits, labels, teacher_logits):
    """kdnas's distill_kd.toml: 0.1 CE + 0.9 T^2 KL(softmax(t/T) || softmax(s/T)), KL summed over classes
    and averaged over the batch."""
    t = KD_TEMPERATURE
    kl = F.kl_div(F.log_softmax(logits / t, 1), F.log_softmax(teacher_logits / t, 1), reduction="batchmean",
                  log_target=True)
    return KD_CE_WEIGHT * F.cross_entropy(logits, labels) + KD_WEIGHT * t * t * kl


@torch.no_grad()
def evaluate(model, images, labels):
    """Test top-1 and mean cross-entropy in evaluation mode (BN running statistics)."""
    model.eval()
    correct, loss = 0, 0.0
    for start in range(0, len(labels), EVAL_BATCH):
        x, y = images[start : start + EVAL_BATCH], labels[start : start + EVAL_BATCH]
        logits = model(x)
        correct += int((logits.argmax(1) == y).sum())
        loss += float(F.cross_entropy(logits, y, reduction="sum"))
    return correct / len(labels), loss / len(labels)


def train(model, data, epochs, seed, teacher, label, checkpoint):
    """Trains `model` (CE, or KD from `teacher` when given) as kdnas's train loop does; returns per-epoch records.
    After every epoch the whole state (weights, optimiser, schedule, random generator, records) is written to
    `checkpoint`, and a restart continues from it exactly."""
    (train_x, train_y), (test_x, test_y) = data
    rng = np.random.default_rng(seed)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, dampening=0.0, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=0.0)
    history = []
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["rng"]
        history = state["history"]
        print(f"{label}: resuming after epoch {len(history)} from {checkpoint}", flush=True)
    for epoch in range(len(history), epochs):
        started = time.time()
        lr = opt.param_groups[0]["lr"]
        model.train()
        order = torch.from_numpy(rng.permutation(len(train_y)))
        loss_sum, correct = 0.0, 0
        for start in range(0, len(order), BATCH):  # the last batch partial
            idx = order[start : start + BATCH]
            x, y = augment(train_x[idx], rng), train_y[idx]
            logits = model(x)
            if teacher is None:
                loss = F.cross_entropy(logits, y)
            else:
                with torch.no_grad():
                    teacher_logits = teacher(x)
                loss = kd_objective(logits, y, teacher_logits)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach()) * len(y)
            correct += int((logits.argmax(1) == y).sum())
        sched.step()
        test_acc, test_loss = evaluate(model, test_x, test_y)
        record = {"epoch": epoch, "lr": lr, "train_loss": loss_sum / len(train_y), "train_acc": correct / len(train_y),
                  "test_acc": test_acc, "test_loss": test_loss, "seconds": time.time() - started}
        history.append(record)
        print(f"{label} epoch {epoch + 1}/{epochs}  lr {lr:.4f}  loss {record['train_loss']:.4f}  "
              f"train acc {100 * record['train_acc']:.2f}%  test_acc {test_acc:.4f}  ({record['seconds']:.1f}s)",
              flush=True)
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "rng": rng.bit_generator.state, "history": history}
        write_atomically(checkpoint, lambda p: torch.save(state, p))
    return history


def write_atomically(path, write):
    """Writes `path` through a temporary file in the same folder and a rename."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def run(name, depth, seed, data, args, teacher=None):
    """Trains one run and writes <out>/<name>.json (the teacher also <out>/<name>.pt), unless that file exists."""
    result_path = args.out / f"{name}.json"
    if result_path.exists():
        print(f"{name}: done ({result_path}), skipped", flush=True)
        return
    torch.manual_seed(seed)
    model = CifarResNet(depth)
    params = sum(p.numel() for p in model.parameters())
    if params != KDNAS_PARAMS[depth]:
        sys.exit(f"resnet{depth} has {params} parameters, kdnas's has {KDNAS_PARAMS[depth]}")
    checkpoint = args.out / f"{name}.checkpoint.pt"
    history = train(model, data, args.epochs, seed, teacher, name, checkpoint)
    best = max(history, key=lambda r: r["test_acc"])  # the first of equal values, as kdnas
    if name.startswith("teacher"):
        write_atomically(args.out / f"{name}.pt", lambda p: torch.save(model.state_dict(), p))
    result = {"run": name, "model": f"resnet{depth}", "params": params, "seed": seed, "test_acc": history[-1]["test_acc"],
              "best_test_acc": best["test_acc"], "best_epoch": best["epoch"], "epochs": args.epochs,
              "train_images": len(data[0][1]), "test_images": len(data[1][1]), "seconds": sum(r["seconds"] for r in history),
              "threads": args.threads, "torch": torch.__version__, "history": history}
    write_atomically(result_path, lambda p: p.write_text(json.dumps(result, indent=2)))
    checkpoint.unlink()
    print(f"{name}: test_acc {result['test_acc']:.4f} (best {result['best_test_acc']:.4f} at epoch "
          f"{result['best_epoch']}), {result['seconds']:.0f}s", flush=True)


def load_teacher(args):
    """The PyTorch teacher trained by this script, frozen in evaluation mode."""
    teacher = CifarResNet(TEACHER_DEPTH)
    teacher.load_state_dict(torch.load(args.out / "teacher_s0.pt", weights_only=True))
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


# --- the comparison table ---


def accuracies(paths):
    """Test top-1 (%) of the result files that exist, in order."""
    found = []
    for path in paths:
        try:
            found.append(100 * json.loads(path.read_text())["test_acc"])
        except (OSError, ValueError, KeyError):
            pass
    return found


def cell(accs):
    """`mean +- std (n: a, b, c)` of the accuracies, or `(not run yet)`."""
    if not accs:
        return "(not run yet)"
    spread = f" +- {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""
    return f"{statistics.mean(accs):.2f}{spread} ({len(accs)}: {', '.join(f'{a:.2f}' for a in accs)})"


def table(out, kdnas_runs):
    """The Markdown table method | kdnas | PyTorch, test top-1 (%) after the last epoch."""
    lines = ["| method | kdnas (mean +- std, seeds) | PyTorch (mean +- std, seeds) |", "|---|---|---|"]
    teacher = ("teacher ResNet-20 (seed 0)", [kdnas_runs / "teacher" / "result.json"], [out / "teacher_s0.json"])
    rows = [teacher] + [(f"ResNet-8 {label}", [kdnas_runs / f"distill_{key}_s{s}" / "result.json" for s in SEEDS],
                         [out / f"{key}_s{s}.json" for s in SEEDS]) for key, label in METHODS]
    for label, kdnas, torch_runs in rows:
        lines.append(f"| {label} | {cell(accuracies(kdnas))} | {cell(accuracies(torch_runs))} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of every run")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch on 20 training images per class, into runs/torch-dfa-quick (an end-to-end check)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of the Fashion-MNIST IDX .gz files")
    parser.add_argument("--out", type=Path, help="result folder (default runs/torch-dfa, or runs/torch-dfa-quick)")
    parser.add_argument("--kdnas-runs", type=Path, default=DEFAULT_KDNAS_RUNS, help="kdnas's fmnist run folders")
    parser.add_argument("--table", action="store_true", help="only print the comparison table")
    args = parser.parse_args()
    if args.quick:
        args.epochs = 1
    args.out = args.out or ROOT / "runs" / ("torch-dfa-quick" if args.quick else "torch-dfa")
    if args.table:
        print(table(args.out, args.kdnas_runs))
        return
    if args.epochs < 1 or args.threads < 1:
        sys.exit("--epochs and --threads must be at least 1")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    per_class = QUICK_PER_CLASS if args.quick else PER_CLASS
    data = (load_split(args.data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", per_class),
            load_split(args.data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", None))
    print(f"torch {torch.__version__}, {args.threads} threads, {len(data[0][1])} training and {len(data[1][1])} "
          f"test images, {args.epochs} epochs, results in {args.out}", flush=True)
    run("teacher_s0", TEACHER_DEPTH, 0, data, args)
    teacher = load_teacher(args)
    for seed in SEEDS:
        run(f"student_s{seed}", STUDENT_DEPTH, seed, data, args)
        run(f"kd_s{seed}", STUDENT_DEPTH, seed, data, args, teacher)
    print(table(args.out, args.kdnas_runs))


if __name__ == "__main__":
    main()
