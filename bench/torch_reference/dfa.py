#!/usr/bin/env python3
"""PyTorch reference benchmark for DFA's search step and distillation step.

The PyTorch twin of `kdnas bench dfa`: the same networks, losses, optimisers and
update rules as kdnas's Rust code, written as a PyTorch user would, so that the
two timings compare the frameworks rather than the algorithms.

Networks (src/models): CIFAR ResNet of depth 6n+2 with basic blocks, a 3x3
stem to 16 channels + BN + ReLU, stages of 16/32/64 channels, the first block
of stages 2 and 3 with stride 2 and an "option B" shortcut (1x1 conv stride 2
+ BN), global average pool, linear head. Feature taps: every block's output
after its final ReLU. Teacher ResNet-56 (untrained; eval mode, requires_grad
False), student ResNet-20. Connectors (src/tasks/dfa/connector.rs): 1x1 conv
without bias + BN.

Search step (src/tasks/dfa/search_task.rs, src/search/bilevel.rs): with
A_i = sum_j softmax(beta_i)_j T_i^j and S_i the student's last block of stage i,
  weight loss = CE + lambda * sum_i MSE(to_teacher_i(S_i), A_i) + TS + ST,
  arch loss   = gamma_ts * TS + gamma_st * ST,
  TS = mean_i CE(student_from_stage_i(to_student_i(A_i))),
  ST = mean_i CE(teacher_from_stage_i(to_teacher_i(S_i))),
lambda 100, gamma 1/1. First order: Adam on beta with d(arch loss)/d(beta) at
the current weights (weights not differentiated), then a weight step on the
training batch (backward, global clip 5, SGD). Second order: DARTS's unrolled
gradient (virtual SGD step with momentum and weight decay, validation gradient
at w', eps = 0.01/||v||, two weight-loss gradients at w +- eps v).

Distillation step (src/tasks/dfa/distill_task.rs, src/train/epochs.rs):
CE + 100 * sum_i MSE(conn_i(S_i), A_i) with fixed uniform weights per stage +
KD (T=4), backward, global clip 5, SGD.

Both timings include building the batches with the teacher's forward pass
(two batches for a search step, one for a distillation step), as the Rust
loops do; `batches_ms` is that part alone.
"""
import argparse
import copy
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ------------------------------------------------------------------- networks
WIDTHS = (16, 32, 64)
STEM = 16


def conv_kaiming(c_in, c_out, k, stride):
    conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=(k - 1) // 2, bias=False)
    nn.init.kaiming_normal_(conv.weight, mode='fan_out', nonlinearity='relu')
    return conv


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = conv_kaiming(c_in, c_out, 3, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = conv_kaiming(c_out, c_out, 3, 1)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(conv_kaiming(c_in, c_out, 1, stride), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class CifarResNet(nn.Module):
    def __init__(self, depth, classes=10, in_channels=3):
        super().__init__()
        assert (depth - 2) % 6 == 0
        n = (depth - 2) // 6
        self.stem = conv_kaiming(in_channels, STEM, 3, 1)
        self.stem_bn = nn.BatchNorm2d(STEM)
        self.stages = nn.ModuleList()
        c_in = STEM
        for s, c_out in enumerate(WIDTHS):
            blocks = []
            for b in range(n):
                blocks.append(BasicBlock(c_in, c_out, 2 if s > 0 and b == 0 else 1))
                c_in = c_out
            self.stages.append(nn.ModuleList(blocks))
        self.classifier = nn.Linear(WIDTHS[-1], classes)

    def head(self, x):
        return self.classifier(x.mean(dim=(2, 3)))

    def forward_features(self, x):
        """(logits, [[block outputs of stage i]])."""
        x = F.relu(self.stem_bn(self.stem(x)))
        stages = []
        for blocks in self.stages:
            taps = []
            for block in blocks:
                x = block(x)
                taps.append(x)
            stages.append(taps)
        return self.head(x), stages

    def forward_from(self, stage, x):
        """Runs the stages after `stage` (0-based) and the head on x."""
        for blocks in self.stages[stage + 1:]:
            for block in blocks:
                x = block(x)
        return self.head(x)


class Connector(nn.Sequential):
    def __init__(self, c_in, c_out):
        super().__init__(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class DfaStudent(nn.Module):
    """The student with connectors to (and, for the search, from) the teacher's stages."""

    def __init__(self, student, both_ways):
        super().__init__()
        self.student = student
        self.to_teacher = nn.ModuleList(Connector(c, c) for c in WIDTHS)
        self.to_student = nn.ModuleList(Connector(c, c) for c in WIDTHS) if both_ways else None


def frozen_teacher(depth):
    teacher = CifarResNet(depth).eval()
    teacher.requires_grad_(False)
    return teacher


# --------------------------------------------------------------------- losses
LAMBDA, GAMMA_TS, GAMMA_ST = 100.0, 1.0, 1.0
KD_T = 4.0


def teacher_batch(teacher, images, labels, idx):
    """The batch of `idx` with the teacher's logits and block features (constants)."""
    x, y = images[idx], labels[idx]
    with torch.no_grad():
        t_logits, t_stages = teacher.forward_features(x)
    return x, y, t_logits, t_stages


def aggregates(t_stages, weights):
    """A_i = sum_j w_ij T_i^j per stage; `weights[i]` is a [blocks] tensor."""
    out = []
    for blocks, w in zip(t_stages, weights):
        acc = None
        for j, t in enumerate(blocks):
            term = t * w[j]
            acc = term if acc is None else acc + term
        out.append(acc)
    return out


def bridges(net, teacher, student, targets, y):
    ts, st = 0.0, 0.0
    for i, (s, a) in enumerate(zip(student, targets)):
        ts = ts + F.cross_entropy(net.student.forward_from(i, net.to_student[i](a)), y)
        st = st + F.cross_entropy(teacher.forward_from(i, net.to_teacher[i](s)), y)
    k = len(targets)
    return ts / k, st / k


def weight_loss(net, teacher, betas, batch):
    x, y, _, t_stages = batch
    logits, s_stages = net.student.forward_features(x)
    ce = F.cross_entropy(logits, y)
    student = [blocks[-1] for blocks in s_stages]
    targets = aggregates(t_stages, [F.softmax(b, dim=-1)[0] for b in betas])
    feature = sum(F.mse_loss(conn(s), a) for s, conn, a in zip(student, net.to_teacher, targets))
    ts, st = bridges(net, teacher, student, targets, y)
    return ce + LAMBDA * feature + ts + st, (ce, feature, ts, st)


def arch_loss(net, teacher, betas, batch):
    x, y, _, t_stages = batch
    _, s_stages = net.student.forward_features(x)
    student = [blocks[-1] for blocks in s_stages]
    targets = aggregates(t_stages, [F.softmax(b, dim=-1)[0] for b in betas])
    ts, st = bridges(net, teacher, student, targets, y)
    return GAMMA_TS * ts + GAMMA_ST * st, (ts, st)


def checked(loss, terms):
    """Reads the loss and its terms to the host (as the Rust loop does), failing on a non-finite value."""
    values = [loss.item()] + [t.item() for t in terms]
    if not all(map(lambda v: v == v and abs(v) != float('inf'), values)):
        sys.exit(f'non-finite loss {values}')


# ----------------------------------------------------------------- search step
LR, MOMENTUM, WD, GRAD_CLIP = 0.025, 0.9, 3e-4, 5.0
ARCH_LR, ARCH_BETAS, ARCH_WD = 3e-4, (0.5, 0.999), 1e-3


class Search:
    def __init__(self, net, teacher, betas):
        self.net, self.teacher, self.betas = net, teacher, betas
        self.clone = copy.deepcopy(net)
        self.w_opt = torch.optim.SGD(net.parameters(), LR, momentum=MOMENTUM, weight_decay=WD)
        self.a_opt = torch.optim.Adam(betas, lr=ARCH_LR, betas=ARCH_BETAS, weight_decay=ARCH_WD)

    def arch_grad_first(self, val):
        loss, terms = arch_loss(self.net, self.teacher, self.betas, val)
        checked(loss, terms)
        return torch.autograd.grad(loss, self.betas)

    def arch_grad_second(self, train, val, eta):
        params = list(self.net.parameters())
        fixed = [b.detach() for b in self.betas]
        loss, terms = weight_loss(self.net, self.teacher, fixed, train)
        checked(loss, terms)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g, q in zip(params, grads, self.clone.parameters()):
                step = g + WD * p
                buf = self.w_opt.state.get(p, {}).get('momentum_buffer')
                if buf is not None:
                    step = step + MOMENTUM * buf
                q.copy_(p - eta * step)
            for b_src, b_dst in zip(self.net.buffers(), self.clone.buffers()):
                b_dst.copy_(b_src)
        loss, terms = arch_loss(self.clone, self.teacher, self.betas, val)
        checked(loss, terms)
        unrolled = list(self.clone.parameters())
        out = torch.autograd.grad(loss, self.betas + unrolled, allow_unused=True)
        dalpha, v = out[:len(self.betas)], out[len(self.betas):]
        pairs = [(p, g) for p, g in zip(params, v) if g is not None]
        eps = 0.01 / torch.cat([g.reshape(-1) for _, g in pairs]).norm()

        def alpha_grad_at(sign):
            with torch.no_grad():
                for p, g in pairs:
                    p.add_(g * (sign * eps))
            loss, terms = weight_loss(self.net, self.teacher, self.betas, train)
            checked(loss, terms)
            grads = torch.autograd.grad(loss, self.betas)
            with torch.no_grad():
                for p, g in pairs:
                    p.sub_(g * (sign * eps))
            return grads

        plus, minus = alpha_grad_at(1.0), alpha_grad_at(-1.0)
        return [a - eta * (gp - gm) / (2 * eps) for a, gp, gm in zip(dalpha, plus, minus)]

    def step(self, train, val, second):
        self.net.train()
        eta = self.w_opt.param_groups[0]['lr']
        g_arch = self.arch_grad_second(train, val, eta) if second else self.arch_grad_first(val)
        self.a_opt.zero_grad()
        for b, g in zip(self.betas, g_arch):
            b.grad = g
        self.a_opt.step()
        self.w_opt.zero_grad()
        fixed = [b.detach() for b in self.betas]
        loss, terms = weight_loss(self.net, self.teacher, fixed, train)
        checked(loss, terms)
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
        self.w_opt.step()


# ------------------------------------------------------------ distillation step
class Distill:
    def __init__(self, net, teacher, blocks):
        self.net, self.teacher = net, teacher
        self.weights = [torch.full((blocks,), 1.0 / blocks) for _ in WIDTHS]
        self.opt = torch.optim.SGD(net.parameters(), LR, momentum=MOMENTUM, weight_decay=WD)

    def step(self, batch):
        self.net.train()
        x, y, t_logits, t_stages = batch
        logits, s_stages = self.net.student.forward_features(x)
        ce = F.cross_entropy(logits, y)
        targets = aggregates(t_stages, self.weights)
        student = [blocks[-1] for blocks in s_stages]
        agg = sum(F.mse_loss(conn(s), a) for s, conn, a in zip(student, self.net.to_teacher, targets))
        kd = F.kl_div(F.log_softmax(logits / KD_T, dim=1), F.log_softmax(t_logits / KD_T, dim=1),
                      reduction='batchmean', log_target=True) * KD_T * KD_T
        loss = ce + LAMBDA * agg + kd
        checked(loss, (ce, agg, kd))
        self.opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
        self.opt.step()


# ------------------------------------------------------------------ benchmark
def peak_mem_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def data(args, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand((args.batch, 3, args.image, args.image), generator=g) * 2 - 1
    labels = torch.randint(0, 10, (args.batch,), generator=g)
    return images, labels


def fields(args):
    return (f'device=cpu threads={torch.get_num_threads()} batch={args.batch} image={args.image} '
            f'teacher=resnet{args.teacher} student=resnet{args.student}')


def timing(totals, batches):
    return (f'batches_ms={statistics.median(batches):.1f} median_ms={statistics.median(totals):.1f} '
            f'min_ms={min(totals):.1f} max_ms={max(totals):.1f} iters={len(totals)} '
            f'peak_mem_mb={peak_mem_mb():.0f}')


def run(args, make_batches, step):
    totals, batches = [], []
    for i in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        b = make_batches()
        t1 = time.perf_counter()
        step(b)
        t2 = time.perf_counter()
        if i >= args.warmup:
            totals.append((t2 - t0) * 1e3)
            batches.append((t1 - t0) * 1e3)
    return totals, batches


def bench_search(args, order):
    torch.manual_seed(args.seed)
    teacher = frozen_teacher(args.teacher)
    net = DfaStudent(CifarResNet(args.student), both_ways=True)
    blocks = (args.teacher - 2) // 6
    betas = [(1e-3 * torch.randn(1, blocks)).requires_grad_() for _ in WIDTHS]
    before = [b.detach().clone() for b in betas]
    search = Search(net, teacher, betas)
    train, val = data(args, args.seed + 1), data(args, args.seed + 2)
    idx = torch.arange(args.batch)
    totals, batches = run(
        args,
        lambda: (teacher_batch(teacher, *train, idx), teacher_batch(teacher, *val, idx)),
        lambda b: search.step(b[0], b[1], order == 'second'))
    if all(torch.equal(a, b) for a, b in zip(before, betas)):
        sys.exit(f'beta did not move for order={order}')
    print(f'dfa-step order={order} {fields(args)} timed=batches+teacher_forward+step {timing(totals, batches)}',
          flush=True)


def bench_distill(args):
    torch.manual_seed(args.seed)
    teacher = frozen_teacher(args.teacher)
    net = DfaStudent(CifarResNet(args.student), both_ways=False)
    distill = Distill(net, teacher, (args.teacher - 2) // 6)
    train = data(args, args.seed + 1)
    idx = torch.arange(args.batch)
    totals, batches = run(args, lambda: teacher_batch(teacher, *train, idx), distill.step)
    print(f'distill-step {fields(args)} objectives=cross_entropy+aggregation+kd '
          f'timed=batch+teacher_forward+step {timing(totals, batches)}', flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--step', choices=['first', 'second', 'distill', 'all'], default='all')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--image', type=int, default=32)
    p.add_argument('--teacher', type=int, default=56, help='teacher ResNet depth (6n+2)')
    p.add_argument('--student', type=int, default=20, help='student ResNet depth (6n+2)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--check', action='store_true',
                   help='smoke test: 1 iteration of every step at batch 2, 8x8, no warm-up')
    args = p.parse_args()
    if args.check:
        args.step, args.batch, args.image, args.warmup, args.iters = 'all', 2, 8, 0, 1
    if args.threads:
        torch.set_num_threads(args.threads)

    n_student = sum(q.numel() for q in CifarResNet(args.student).parameters())
    n_teacher = sum(q.numel() for q in CifarResNet(args.teacher).parameters())
    n_dfa = sum(q.numel() for q in DfaStudent(CifarResNet(args.student), both_ways=True).parameters())
    print(f'params teacher={n_teacher} student={n_student} student_with_connectors={n_dfa}', flush=True)

    steps = ['first', 'second', 'distill'] if args.step == 'all' else [args.step]
    for step in steps:
        if step == 'distill':
            bench_distill(args)
        else:
            bench_search(args, step)


if __name__ == '__main__':
    main()
