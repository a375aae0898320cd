"""Cross-check of kdnas's distillation losses against torchdistill and the overhaul authors' code.

For several seeds and shapes this script draws float32 tensors, runs kdnas's values through the
`loss_values` example (target/release/examples/loss_values, JSON on stdin/stdout), computes the
reference values in float64 from the same float32 inputs, and prints one table row per comparison.
It exits with status 1 if any relative difference exceeds the tolerance (1e-5), 2 on a usage error.

References (see bench/crosscheck/README.md):
  kd              torchdistill.losses.mid_level.KDLoss (reduction 'batchmean'); its soft term times T^2
  kd (alpha form) KDLoss(alpha=0.5) with targets, minus 0.5 * CE, divided by beta = 0.5
  fitnet          torchdistill SimpleLossWrapper(MSELoss(reduction='sum')), as in torchdistill's FitNet
                  config; kdnas's feature_l2 is the mean, so it is multiplied by numel
  at / at map     torchdistill ATLoss(mode='code') and ATLoss.attention_transfer (p = 2 only); for p != 2
                  the paper's map normalize(mean_c |x|^p) written with torch ops
  overhaul margin get_margin_from_BN of clovaai/overhaul-distillation (CIFAR-100/distiller.py), on a BatchNorm2d
  overhaul loss   distillation_loss of the same file (a sum); kdnas's margin_l2 is the mean, times numel

Usage: torchvenv/bin/python bench/crosscheck/losses.py [--binary PATH] [--tolerance 1e-5]
"""

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import torch
from scipy.stats import norm
from torch import nn
from torchdistill.losses.mid_level import ATLoss, KDLoss, SimpleLossWrapper

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = ROOT / "target" / "release" / "examples" / "loss_values"

# seed, logits [n, classes], logit scale, temperature, feature [n, c, h, w], attention student and teacher
# channels (same n, h, w as the feature), attention p
CASES = [
    (0, (8, 10), 1.0, 4.0, (4, 16, 8, 8), (8, 16), 2.0),
    (1, (3, 100), 1.0, 1.0, (2, 8, 5, 7), (4, 12), 2.0),
    (2, (8, 10), 10.0, 2.5, (4, 16, 8, 8), (16, 32), 2.0),
    (3, (5, 1000), 3.0, 20.0, (3, 6, 4, 4), (6, 3), 2.0),
    (4, (8, 10), 1.0, 4.0, (4, 16, 8, 8), (8, 16), 3.0),
]


# --- reference formulas of the overhaul authors (clovaai/overhaul-distillation, CIFAR-100/distiller.py) ---


def get_margin_from_BN(bn):
    """The authors' per-channel margin: E[x | x < 0] for x ~ N(beta, gamma^2), or -3|gamma| in the tail."""
    margin = []
    std = bn.weight.data
    mean = bn.bias.data
    for s, m in zip(std, mean):
        s = abs(s.item())
        m = m.item()
        if norm.cdf(-m / s) > 0.001:
            margin.append(-s * math.exp(-((m / s) ** 2) / 2) / math.sqrt(2 * math.pi) / norm.cdf(-m / s) + m)
        else:
            margin.append(-3 * s)
    return torch.FloatTensor(margin).to(std.device)


def distillation_loss(source, target, margin):
    """The authors' partial L2 with the teacher clamped at the margin, summed over all elements."""
    target = torch.max(target, margin)
    loss = torch.nn.functional.mse_loss(source, target, reduction="none")
    loss = loss * ((source > target) | (target > 0)).float()
    return loss.sum()


# --- case generation and the two sides ---


def draw(gen, shape, scale=1.0):
    """A float32 normal tensor."""
    return torch.randn(*shape, generator=gen, dtype=torch.float32) * scale


def flat(t):
    """A tensor as the example's JSON object (float32 values are exact as Python floats)."""
    return {"shape": list(t.shape), "data": t.flatten().tolist()}


def make_case(seed, logits, scale, temperature, feature, att_channels, p):
    """Draws one case: float32 tensors, BN parameters and the reference margins."""
    gen = torch.Generator().manual_seed(seed)
    n, c, h, w = feature
    bn = nn.BatchNorm2d(c)
    gamma = (torch.rand(c, generator=gen) * 1.8 + 0.2) * torch.where(torch.rand(c, generator=gen) < 0.2, -1.0, 1.0)
    beta = draw(gen, (c,), 1.5)
    beta[0] = 3.5 * gamma[0].abs()  # Phi(-beta/|gamma|) < 0.001: the -3|gamma| branch
    beta[1] = 3.0 * gamma[1].abs()  # just above the threshold: the conditional mean, with cancellation
    beta[2] = -4.0  # mostly negative response
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
    return {
        "seed": seed,
        "temperature": temperature,
        "p": p,
        "student_logits": draw(gen, logits, scale),
        "teacher_logits": draw(gen, logits, scale),
        "targets": torch.randint(0, logits[1], (logits[0],), generator=gen),
        "feature_s": draw(gen, feature),
        "feature_t": draw(gen, feature),
        "att_s": draw(gen, (n, att_channels[0], h, w)),
        "att_t": draw(gen, (n, att_channels[1], h, w)),
        "bn": bn,
        "margin": get_margin_from_BN(bn),
    }


def kdnas_values(binary, case):
    """Runs the example on one case and returns its JSON answer."""
    doc = {
        "temperature": case["temperature"],
        "p": case["p"],
        "student_logits": flat(case["student_logits"]),
        "teacher_logits": flat(case["teacher_logits"]),
        "features": [{"student": flat(case["feature_s"]), "teacher": flat(case["feature_t"])}],
        "attention": [{"student": flat(case["att_s"]), "teacher": flat(case["att_t"])}],
        "margin": case["margin"].tolist(),
        "bn_mean": case["bn"].bias.data.tolist(),
        "bn_std": case["bn"].weight.data.tolist(),
    }
    run = subprocess.run([str(binary)], input=json.dumps(doc), capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"{binary} failed ({run.returncode}): {run.stderr.strip()}")
    return json.loads(run.stdout)


def io(tensor):
    """A torchdistill io dict with one module path 'm' whose output is `tensor`."""
    return {"m": {"output": tensor}}


def attention_reference(s, t, p):
    """torchdistill's ATLoss (p = 2) or the paper's |x|^p map with the same mean square (p != 2)."""
    if p == 2.0:
        pair = {"student": {"io": "output", "path": "m"}, "teacher": {"io": "output", "path": "m"}, "weight": 1}
        loss = ATLoss({"pair": pair}, mode="code")(io(s), io(t)).item()
        return loss, ATLoss.attention_transfer(s), ATLoss.attention_transfer(t), "torchdistill ATLoss"

    def paper_map(x):
        return nn.functional.normalize(x.abs().pow(p).mean(1).flatten(1))

    ms, mt = paper_map(s), paper_map(t)
    return (ms - mt).pow(2).mean().item(), ms, mt, f"paper formula, p={p:g}"


def rows_for(case, kd):
    """(loss, shape, factor, kdnas value(s) after the factor, reference value(s), reference name)."""
    d = torch.float64
    s_log, t_log = case["student_logits"].to(d), case["teacher_logits"].to(d)
    T = case["temperature"]
    shape_logits = "x".join(map(str, s_log.shape)) + f" T={T:g}"
    soft = KDLoss("m", "output", "m", "output", temperature=T, alpha=0.0)(io(s_log), io(t_log)).item()
    alpha = 0.5
    full = KDLoss("m", "output", "m", "output", temperature=T, alpha=alpha)(io(s_log), io(t_log), case["targets"])
    ce = nn.functional.cross_entropy(s_log, case["targets"])
    alpha_form = ((full - alpha * ce) / (1 - alpha)).item()

    fs, ft = case["feature_s"].to(d), case["feature_t"].to(d)
    numel = fs.numel()
    shape_feature = "x".join(map(str, fs.shape))
    mse_sum = SimpleLossWrapper(
        nn.MSELoss(reduction="sum"),
        input={"is_from_teacher": False, "module_path": "m", "io": "output"},
        target={"is_from_teacher": True, "module_path": "m", "io": "output"},
    )(io(fs), io(ft), None).item()
    margin = case["margin"].to(d).view(1, -1, 1, 1)
    overhaul_sum = distillation_loss(fs, ft, margin).item()

    a_s, a_t = case["att_s"].to(d), case["att_t"].to(d)
    at_loss, map_s, map_t, at_name = attention_reference(a_s, a_t, case["p"])
    shape_att = f"s{a_s.shape[1]}/t{a_t.shape[1]}x{a_s.shape[2]}x{a_s.shape[3]} p={case['p']:g}"
    kd_maps = torch.tensor(kd["attention_map_student"] + kd["attention_map_teacher"], dtype=d)
    ref_maps = torch.cat([map_s.flatten(), map_t.flatten()])

    c = case["margin"].numel()
    kd_margin = torch.tensor(kd["overhaul_margin"], dtype=d)
    overhaul_name = "distillation_loss (sum)"
    return [
        ("kd", shape_logits, "1 (ref = T^2 * KDLoss soft term)", kd["kd_loss"], soft * T * T, "torchdistill KDLoss"),
        ("kd, alpha form", shape_logits, "1", kd["kd_loss"], alpha_form, "KDLoss(alpha=0.5) - 0.5 CE"),
        ("fitnet hint", shape_feature, f"numel={numel}", kd["feature_l2"][0] * numel, mse_sum, "MSELoss(sum)"),
        ("at loss", shape_att, "1", kd["attention_loss"][0], at_loss, at_name),
        ("at maps (s, t)", shape_att, "1", kd_maps, ref_maps, at_name),
        ("overhaul margin", f"C={c}", "1", kd_margin, margin.flatten(), "get_margin_from_BN"),
        ("overhaul loss", shape_feature, f"numel={numel}", kd["margin_l2"][0] * numel, overhaul_sum, overhaul_name),
    ]


def difference(loss, ours, ref):
    """Absolute and relative difference. For vectors, the largest elementwise ones: relative to each
    element for the margins (all negative, none near 0), relative to max |ref| for the attention maps
    (whose small elements carry no weight in the loss)."""
    if isinstance(ours, torch.Tensor):
        if ours.shape != ref.shape:
            raise RuntimeError(f"shape mismatch: kdnas {tuple(ours.shape)} vs reference {tuple(ref.shape)}")
        diff = (ours - ref).abs()
        scale = ref.abs().clamp_min(1e-30) if loss == "overhaul margin" else max(ref.abs().max().item(), 1e-30)
        return diff.max().item(), (diff / scale).max().item(), "max "
    abs_diff = abs(ours - ref)
    return abs_diff, abs_diff / max(abs(ref), 1e-30), ""


def show(value):
    """A table cell: a value, or the largest magnitude of a vector."""
    if isinstance(value, torch.Tensor):
        return f"[{value.numel()}] {value.abs().max().item():.9g}"
    return f"{value:.9g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, default=DEFAULT_BINARY, help="the built loss_values example")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="largest accepted relative difference")
    args = parser.parse_args()
    if not args.binary.is_file():
        print(f"{args.binary} not found: run `cargo build --release --example loss_values` first", file=sys.stderr)
        return 2

    print("| seed | loss | shape | factor on kdnas | kdnas | reference | reference is | abs diff | rel diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    worst, failures = 0.0, 0
    for spec in CASES:
        case = make_case(*spec)
        kd = kdnas_values(args.binary, case)
        for loss, shape, factor, ours, ref, ref_name in rows_for(case, kd):
            abs_diff, rel_diff, kind = difference(loss, ours, ref)
            worst = max(worst, rel_diff)
            flag = "" if rel_diff <= args.tolerance else " **FAIL**"
            failures += bool(flag)
            print(
                f"| {case['seed']} | {loss} | {shape} | {factor} | {show(ours)} | {show(ref)} | {ref_name} "
                f"| {kind}{abs_diff:.2e} | {rel_diff:.2e}{flag} |"
            )
    print(f"\nworst relative difference {worst:.2e}, tolerance {args.tolerance:g}, {failures} above it")
    print(f"torch {torch.__version__}, torchdistill {__import__('torchdistill').__version__}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
