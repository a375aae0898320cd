#!/usr/bin/env python3
"""PyTorch reference benchmark for one DARTS search step.

A compact, self-contained port of the search semantics of quark0/darts
(cnn/operations.py, cnn/genotypes.py, cnn/model_search.py, cnn/architect.py and
the train loop of cnn/train_search.py). One "search step" is what one iteration
of DARTS's train loop does:

  1. architect.step on a validation batch (first order: plain backward of the
     validation loss; second order: one-step unrolled model w' plus the
     finite-difference Hessian-vector product), then Adam on the alphas;
  2. a weight step on a training batch: forward, cross-entropy, backward,
     global grad-norm clip (5), SGD step.

Deliberate, semantics-preserving differences from the original code:
  * no deprecated Variable / .data idioms; torch.no_grad() and autograd.grad;
  * the unrolled model is one persistent Network clone whose parameters,
    buffers and alphas are overwritten every step, instead of constructing a
    fresh Network per step (same values, no per-step module construction);
  * gradients of the unrolled loss are taken with autograd.grad over
    (alphas + weights), which is what unrolled_loss.backward() filled in;
  * fixed random batches instead of a CIFAR-10 loader.
"""
import argparse
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PRIMITIVES = ['none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect',
              'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5']


# ---------------------------------------------------------------- operations
class Zero(nn.Module):
    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad, affine=True):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class DilConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad, dil, affine=True):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, k, stride=stride, padding=pad, dilation=dil,
                                   groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, padding=0, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class SepConv(nn.Sequential):
    def __init__(self, c_in, c_out, k, stride, pad, affine=True):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, k, stride=stride, padding=pad, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_in, 1, padding=0, bias=False),
                         nn.BatchNorm2d(c_in, affine=affine),
                         nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, k, stride=1, padding=pad, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, padding=0, bias=False),
                         nn.BatchNorm2d(c_out, affine=affine))


class FactorizedReduce(nn.Module):
    def __init__(self, c_in, c_out, affine=True):
        super().__init__()
        assert c_out % 2 == 0
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x):
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


OPS = {
    'none': lambda C, s, a: Zero(s),
    'avg_pool_3x3': lambda C, s, a: nn.AvgPool2d(3, stride=s, padding=1, count_include_pad=False),
    'max_pool_3x3': lambda C, s, a: nn.MaxPool2d(3, stride=s, padding=1),
    'skip_connect': lambda C, s, a: nn.Identity() if s == 1 else FactorizedReduce(C, C, affine=a),
    'sep_conv_3x3': lambda C, s, a: SepConv(C, C, 3, s, 1, affine=a),
    'sep_conv_5x5': lambda C, s, a: SepConv(C, C, 5, s, 2, affine=a),
    'dil_conv_3x3': lambda C, s, a: DilConv(C, C, 3, s, 2, 2, affine=a),
    'dil_conv_5x5': lambda C, s, a: DilConv(C, C, 5, s, 4, 2, affine=a),
}


# -------------------------------------------------------------- search model
class MixedOp(nn.Module):
    def __init__(self, C, stride):
        super().__init__()
        self._ops = nn.ModuleList()
        for prim in PRIMITIVES:
            op = OPS[prim](C, stride, False)
            if 'pool' in prim:
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)

    def forward(self, x, weights):
        return sum(w * op(x) for w, op in zip(weights, self._ops))


class Cell(nn.Module):
    def __init__(self, steps, multiplier, c_pp, c_p, C, reduction, reduction_prev):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(c_pp, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(c_pp, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(c_p, C, 1, 1, 0, affine=False)
        self._steps, self._multiplier = steps, multiplier
        self._ops = nn.ModuleList()
        for i in range(steps):
            for j in range(2 + i):
                self._ops.append(MixedOp(C, 2 if reduction and j < 2 else 1))

    def forward(self, s0, s1, weights):
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self._steps):
            s = sum(self._ops[offset + j](h, weights[offset + j]) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self._multiplier:], dim=1)


class Network(nn.Module):
    def __init__(self, C, num_classes, layers, device, steps=4, multiplier=4, stem_multiplier=3):
        super().__init__()
        self._steps, self._multiplier = steps, multiplier
        c_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c_curr))
        c_pp, c_p, c_curr = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_curr *= 2
            self.cells.append(Cell(steps, multiplier, c_pp, c_p, c_curr, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, multiplier * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        self.to(device)
        # Alphas are plain leaf tensors (not nn.Parameters), exactly as in DARTS:
        # model.parameters() -- and so the SGD optimiser and the weight-grad
        # clip -- never see them.
        k = sum(2 + i for i in range(steps))
        self.alphas_normal = (1e-3 * torch.randn(k, len(PRIMITIVES))).to(device).requires_grad_()
        self.alphas_reduce = (1e-3 * torch.randn(k, len(PRIMITIVES))).to(device).requires_grad_()

    def arch_parameters(self):
        return [self.alphas_normal, self.alphas_reduce]

    def forward(self, x):
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            alphas = self.alphas_reduce if cell.reduction else self.alphas_normal
            s0, s1 = s1, cell(s0, s1, F.softmax(alphas, dim=-1))
        out = self.global_pooling(s1)
        return self.classifier(out.view(out.size(0), -1))

    def loss(self, x, y):
        return F.cross_entropy(self(x), y)


# ----------------------------------------------------------------- architect
def _grad(loss, tensors):
    # allow_unused: with very few layers (e.g. --check's 2) every cell is a
    # reduction cell and alphas_normal is unused; its gradient stays None, as
    # loss.backward() would leave it (Adam then skips it).
    return torch.autograd.grad(loss, tensors, allow_unused=True)


class Architect:
    def __init__(self, model, clone, w_optimizer, momentum, weight_decay, arch_lr, arch_wd):
        self.model, self.clone, self.w_opt = model, clone, w_optimizer
        self.momentum, self.wd = momentum, weight_decay
        self.optimizer = torch.optim.Adam(model.arch_parameters(), lr=arch_lr,
                                          betas=(0.5, 0.999), weight_decay=arch_wd)

    def step(self, x_train, y_train, x_valid, y_valid, eta, unrolled):
        self.optimizer.zero_grad()
        if unrolled:
            self._backward_step_unrolled(x_train, y_train, x_valid, y_valid, eta)
        else:
            self._backward_step(x_valid, y_valid)
        self.optimizer.step()

    def _backward_step(self, x_valid, y_valid):
        # DARTS: loss.backward() -- also fills (unused) weight grads, which the
        # weight step's zero_grad discards.
        self.model.loss(x_valid, y_valid).backward()

    def _compute_unrolled_model(self, x_train, y_train, eta):
        """clone <- w' = w - eta * (momentum * buf + dL_train/dw + wd * w)."""
        params = list(self.model.parameters())
        grads = torch.autograd.grad(self.model.loss(x_train, y_train), params)
        bufs = [self.w_opt.state.get(p, {}).get('momentum_buffer') for p in params]
        use_moment = all(b is not None for b in bufs)  # DARTS: try/except -> zeros
        with torch.no_grad():
            for p, g, b, q in zip(params, grads, bufs, self.clone.parameters()):
                step = g + self.wd * p
                if use_moment:
                    step = step + self.momentum * b
                q.copy_(p - eta * step)
            # DARTS builds the clone from model.state_dict(): BN buffers and alphas too.
            for b_src, b_dst in zip(self.model.buffers(), self.clone.buffers()):
                b_dst.copy_(b_src)
            for a_src, a_dst in zip(self.model.arch_parameters(), self.clone.arch_parameters()):
                a_dst.copy_(a_src)

    def _backward_step_unrolled(self, x_train, y_train, x_valid, y_valid, eta):
        self._compute_unrolled_model(x_train, y_train, eta)
        unrolled_loss = self.clone.loss(x_valid, y_valid)
        n_arch = len(self.clone.arch_parameters())
        grads = _grad(unrolled_loss, self.clone.arch_parameters() + list(self.clone.parameters()))
        dalpha, vector = grads[:n_arch], grads[n_arch:]
        implicit = self._hessian_vector_product(vector, x_train, y_train)
        for a, g, ig in zip(self.model.arch_parameters(), dalpha, implicit):
            a.grad = None if g is None else g - eta * ig

    def _hessian_vector_product(self, vector, x, y, r=1e-2):
        """(d_alpha L_train(w+) - d_alpha L_train(w-)) / 2R, w+- = w +- R v, on the ORIGINAL w."""
        R = (r / torch.cat([v.reshape(-1) for v in vector]).norm()).item()
        params = list(self.model.parameters())
        with torch.no_grad():
            for p, v in zip(params, vector):
                p.add_(v, alpha=R)
        grads_p = _grad(self.model.loss(x, y), self.model.arch_parameters())
        with torch.no_grad():
            for p, v in zip(params, vector):
                p.sub_(v, alpha=2 * R)
        grads_n = _grad(self.model.loss(x, y), self.model.arch_parameters())
        with torch.no_grad():
            for p, v in zip(params, vector):
                p.add_(v, alpha=R)
        return [None if gp is None else (gp - gn).div_(2 * R) for gp, gn in zip(grads_p, grads_n)]


# ----------------------------------------------------------------- benchmark
LR, MOMENTUM, WD, GRAD_CLIP = 0.025, 0.9, 3e-4, 5.0
ARCH_LR, ARCH_WD = 3e-4, 1e-3


def build(args, device):
    torch.manual_seed(args.seed)
    model = Network(args.channels, args.classes, args.layers, device)
    clone = Network(args.channels, args.classes, args.layers, device)
    w_opt = torch.optim.SGD(model.parameters(), LR, momentum=MOMENTUM, weight_decay=WD)
    arch = Architect(model, clone, w_opt, MOMENTUM, WD, ARCH_LR, ARCH_WD)
    g = torch.Generator().manual_seed(args.seed + 1)
    shape = (args.batch, 3, args.image, args.image)
    data = [t.to(device) for t in (torch.randn(shape, generator=g),
                                   torch.randint(0, args.classes, (args.batch,), generator=g),
                                   torch.randn(shape, generator=g),
                                   torch.randint(0, args.classes, (args.batch,), generator=g))]
    return model, w_opt, arch, data


def search_step(model, w_opt, arch, data, unrolled):
    x_train, y_train, x_valid, y_valid = data
    model.train()
    eta = w_opt.param_groups[0]['lr']
    arch.step(x_train, y_train, x_valid, y_valid, eta, unrolled)
    w_opt.zero_grad()
    loss = F.cross_entropy(model(x_train), y_train)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
    w_opt.step()
    return loss.detach()


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def peak_mem_mb(device):
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bench(args, device, order):
    model, w_opt, arch, data = build(args, device)
    unrolled = order == 'second'
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    alphas0 = [a.detach().clone() for a in model.arch_parameters()]
    times = []
    for i in range(args.warmup + args.iters):
        sync(device)
        t0 = time.perf_counter()
        loss = search_step(model, w_opt, arch, data, unrolled)
        sync(device)
        if i >= args.warmup:
            times.append((time.perf_counter() - t0) * 1e3)
    if not torch.isfinite(loss):
        sys.exit(f'non-finite loss for order={order}')
    if all(torch.equal(a, b) for a, b in zip(alphas0, model.arch_parameters())):
        sys.exit(f'alphas did not move for order={order}')
    print(f'darts-step order={order} device={device.type} threads={torch.get_num_threads()} '
          f'batch={args.batch} channels={args.channels} layers={args.layers} image={args.image} '
          f'median_ms={statistics.median(times):.1f} min_ms={min(times):.1f} '
          f'max_ms={max(times):.1f} iters={args.iters} peak_mem_mb={peak_mem_mb(device):.1f}',
          flush=True)


def check_hvp(args, device):
    """--check only: the finite-difference Hessian-vector product vs exact double backward.

    Run in float64 with r=1e-5 so the comparison tests the implementation: at
    DARTS's r=1e-2 the central difference itself is far off on a random vector
    (ReLU/max-pool kinks, tiny-batch BN), which is DARTS's approximation, not a bug.
    """
    torch.manual_seed(args.seed)
    model = Network(args.channels, args.classes, args.layers, device).double()
    model.alphas_normal = model.alphas_normal.detach().double().requires_grad_()
    model.alphas_reduce = model.alphas_reduce.detach().double().requires_grad_()
    arch = Architect(model, None, None, MOMENTUM, WD, ARCH_LR, ARCH_WD)
    g = torch.Generator().manual_seed(args.seed + 2)
    x = torch.randn(args.batch, 3, args.image, args.image, generator=g, dtype=torch.float64).to(device)
    y = torch.randint(0, args.classes, (args.batch,), generator=g).to(device)
    params = list(model.parameters())
    vector = [torch.randn(p.shape, generator=g, dtype=torch.float64).to(device) for p in params]
    fd = arch._hessian_vector_product(vector, x, y, r=1e-5)
    dw = torch.autograd.grad(model.loss(x, y), params, create_graph=True)
    dot = sum((d * v).sum() for d, v in zip(dw, vector))
    exact = _grad(dot, model.arch_parameters())
    pairs = [(a, b) for a, b in zip(fd, exact) if b is not None]
    num = torch.cat([(a - b).reshape(-1) for a, b in pairs]).norm()
    rel = (num / torch.cat([b.reshape(-1) for _, b in pairs]).norm()).item()
    print(f'check hvp_rel_err={rel:.2e}', flush=True)
    if not rel < 1e-4:
        sys.exit('finite-difference Hessian-vector product disagrees with autograd')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--order', choices=['first', 'second', 'both'], default='both')
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--channels', type=int, default=16)
    p.add_argument('--layers', type=int, default=8)
    p.add_argument('--image', type=int, default=32)
    p.add_argument('--classes', type=int, default=10)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--iters', type=int, default=5)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--check', action='store_true',
                   help='smoke test: 1 iteration of each order at batch 2, C 4, 2 layers, 8x8')
    args = p.parse_args()
    if args.check:
        args.order, args.batch, args.channels, args.layers, args.image = 'both', 2, 4, 2, 8
        args.warmup, args.iters = 0, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # as in DARTS's train_search.py

    torch.manual_seed(args.seed)
    probe = Network(args.channels, args.classes, args.layers, 'cpu')
    n_net = sum(q.numel() for q in probe.parameters() if q.requires_grad)
    n_arch = sum(a.numel() for a in probe.arch_parameters())
    print(f'params search_network={n_net} arch={n_arch}', flush=True)
    del probe

    if args.check:
        check_hvp(args, device)
    for order in (['first', 'second'] if args.order == 'both' else [args.order]):
        bench(args, device, order)


if __name__ == '__main__':
    main()
