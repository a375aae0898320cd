"""Cross-check of kdnas's whole overhaul objective against a PyTorch transcription of the reference.

The reference is PkuDavidGuan/Distillation's margin_ReLU method (the code base of DFA's first author):
`WideResNet.get_margin` / `get_margin_from_BN` for the per-channel margins of each position's BatchNorm and
`MarginReLULoss` for the loss (partial L2 summed over elements, position i of n divided by 2^(n-i-1), the
sum divided by the batch size, times alpha = 1e-3), written here in torch on float64 copies of the same
float32 tensors and BatchNorm parameters that kdnas (examples/loss_values.rs) receives. Only torch is
needed (scipy's norm.cdf is written with math.erfc). A manual check, not part of CI; see README.md.
"""

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

DEFAULT_BINARY = Path(__file__).resolve().parents[2] / "target" / "release" / "examples" / "loss_values"

# (seed, batch, [(channels, side) per position]): a WRN-16-2-like stem + 3 groups, and a 3-position net.
CASES = [
    (0, 2, [(16, 8), (32, 8), (64, 4), (128, 2)]),
    (1, 4, [(16, 6), (16, 6), (32, 3), (64, 2)]),
    (2, 3, [(8, 5), (12, 3), (20, 2)]),
]


def norm_cdf(x):
    """scipy.stats.norm.cdf."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def get_margin_from_BN(bn):
    """The reference's margin: E[x | x < 0] for x ~ N(bias, weight^2), or -3|weight| in the tail."""
    margin = []
    std = bn.weight.data
    mean = bn.bias.data
    for s, m in zip(std, mean):
        s = abs(s.item())
        m = m.item()
        if norm_cdf(-m / s) > 0.001:
            margin.append(-s * math.exp(-((m / s) ** 2) / 2) / math.sqrt(2 * math.pi) / norm_cdf(-m / s) + m)
        else:
            margin.append(-3 * s)
    return torch.tensor(margin, dtype=torch.float64)


def distillation_loss(source, target, margin):
    """MarginReLULoss.distillation_loss, verbatim in its three cases."""
    loss = (
        (source - margin) ** 2 * ((source > margin) & (target <= margin)).double()
        + (source - target) ** 2 * ((source > target) & (target > margin) & (target <= 0)).double()
        + (source - target) ** 2 * (target > 0).double()
    )
    return torch.abs(loss).sum()


def reference(students, teachers, bns, alpha=1e-3):
    """MarginReLULoss.forward without its cross-entropy term."""
    batch = students[0].size(0)
    feat_num = len(students)
    distill_loss = 0
    for i in range(feat_num):
        margin = get_margin_from_BN(bns[i]).view(1, -1, 1, 1)
        distill_loss += distillation_loss(students[i], teachers[i], margin) / 2 ** (feat_num - i - 1)
    distill_loss /= batch
    return alpha * distill_loss.item()


def flat(t):
    """A tensor as the example's JSON object (float32 values are exact as Python floats)."""
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def make_case(seed, batch, positions):
    """Float32 student/teacher features (teachers shifted so that all three cases occur) and BatchNorms
    with negative scales, a tail channel and a mostly negative channel."""
    gen = torch.Generator().manual_seed(seed)
    students, teachers, bns = [], [], []
    for c, side in positions:
        bn = nn.BatchNorm2d(c)
        gamma = (torch.rand(c, generator=gen) * 1.8 + 0.2) * torch.where(torch.rand(c, generator=gen) < 0.2, -1.0, 1.0)
        beta = torch.randn(c, generator=gen) * 1.5
        beta[0] = 3.5 * gamma[0].abs()
        beta[1] = -4.0
        with torch.no_grad():
            bn.weight.copy_(gamma)
            bn.bias.copy_(beta)
        bns.append(bn)
        students.append(torch.randn(batch, c, side, side, generator=gen))
        teachers.append(torch.randn(batch, c, side, side, generator=gen) * 1.5 - 0.5)
    return students, teachers, bns


def kdnas_value(binary, students, teachers, bns):
    """kdnas's overhaul objective on the case, from the example."""
    empty = {"shape": [1, 1], "data": [0.0]}
    doc = {
        "temperature": 1.0,
        "p": 2.0,
        "student_logits": empty,
        "teacher_logits": empty,
        "features": [],
        "attention": [],
        "margin": [],
        "bn_mean": [],
        "bn_std": [],
        "overhaul": [
            {"student": flat(s), "teacher": flat(t), "bn_shift": bn.bias.data.tolist(), "bn_scale": bn.weight.data.tolist()}
            for s, t, bn in zip(students, teachers, bns)
        ],
    }
    run = subprocess.run([str(binary)], input=json.dumps(doc), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"{binary} failed ({run.returncode}): {run.stderr.strip()}")
    return json.loads(run.stdout)["overhaul_objective"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, default=DEFAULT_BINARY, help="the built loss_values example")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest accepted relative difference")
    args = parser.parse_args()
    if not args.binary.is_file():
        print(f"{args.binary} not found: run `cargo build --release --example loss_values` first", file=sys.stderr)
        return 2
    print("| seed | batch | positions (channels x side) | kdnas | reference | rel diff |")
    print("|---|---|---|---|---|---|")
    failures = 0
    for seed, batch, positions in CASES:
        students, teachers, bns = make_case(seed, batch, positions)
        ours = kdnas_value(args.binary, students, teachers, bns)
        ref = reference([s.double() for s in students], [t.double() for t in teachers], bns)
        rel = abs(ours - ref) / abs(ref)
        flag = "" if rel <= args.tolerance else " **FAIL**"
        failures += bool(flag)
        shapes = ", ".join(f"{c}x{side}" for c, side in positions)
        print(f"| {seed} | {batch} | {shapes} | {ours:.9g} | {ref:.9g} | {rel:.2e}{flag} |")
    print(f"\ntorch {torch.__version__}, tolerance {args.tolerance:g}, {failures} above it")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
