#!/usr/bin/env python3
"""PyTorch reference benchmark for AdaRec's search step and inference.

The PyTorch twin of `kdnas bench adarec` (src/app/bench/adarec.rs): the same networks, loss, relaxation,
optimisers and update rules as kdnas's Rust code, written as a PyTorch user would, so that the two
timings compare the frameworks rather than the algorithms.

Teacher (src/models/nextitnet.rs): NextItNet, item embedding 256-d (id 0 padding, zeroed by a mask),
16 residual blocks `x + alpha * relu(ln2(conv2(relu(ln1(conv1(x))))))` of causal dilated convs (kernel 3,
left zero padding (k-1)*d, first conv dilated 1 or 4 cycling, the second twice that: 1, 2, 4, 8),
LayerNorm eps 1e-8 over channels, ReZero alpha; output layer `h @ W + b` over items + 1. Untrained,
eval mode, no_grad.

Student supernet (src/models/sequence_cell_network.rs, src/supernet/cell.rs, mixed_op.rs): item embedding 64-d, dropout
0.1, 4 cells sharing one architecture (6 edges: n0<-c, n1<-c, n1<-n0, n2<-c, n2<-n0, n2<-n1, each reading
the ReLU of its source), node outputs combined by softmax(node_logits), then `x + relu(ln(.))`; dropout,
output layer. Ops (src/ops/causal1d): std_cnn_k (dilation 1), dil_cnn_k (dilation 2), cau_cnn_k (dilation
2 + BatchNorm, non-affine in the search), causal max / average pool of 3 (average over the existing
inputs), skip, none. Projections 64 -> 256 for the embedding and (shared) for every cell output.

Search step (src/tasks/adarec/search_task.rs, src/search/bilevel.rs, single level):
  hard Gumbel-softmax per edge (tau 1, straight-through; only the sampled op of each edge is evaluated,
  as kdnas does: its output times the edge's weight of that op, zeros for `none`),
  L = 0.5 CE + 0.5 (embedding MSE + hidden EMD + logit KL) + 8 * expected cost,
  hidden EMD: KL(softmax_c(S_i) || softmax_c(T_j)) over the real positions for the 4 student cells x 8
  teacher layers (every 2nd block), the exact optimal flow between the layer masses on the detached
  distances (scipy's linprog / HiGHS, on the host as in kdnas), loss sum F D / sum F, then the mass update
  (teacher costs with the reversed KL, temperature 10); cost: normalised parameter counts;
  one backward, global clip_grad_norm_(5) on the network, AdamW on the network (5e-3, wd 5e-4) and on the
  alphas (2e-5, wd 1e-4). Loss and terms are read to the host (kdnas's NaN check).
  The authors' code (Anonymous-2611/AdaRec) evaluates EVERY op of an edge and multiplies by the one-hot
  weights; `--all-ops` times that variant too (all built ops weighted by the edge's weights).
The timing includes building the batch with the teacher's forward pass; `batches_ms` is that part alone.

Inference: the teacher and a derived student (fixed genotype, kdnas's DERIVED_OPS; BatchNorm affine, eval
mode) score the next item (last position only) of 1,000 users of length 50, 256 users per pass, no_grad;
reported in ms per 1,000 users, alternating teacher and student in every repetition.
"""
import argparse
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.optimize import linprog

LN_EPS = 1e-8
OPS = ['std_cnn_3', 'dil_cnn_3', 'cau_cnn_3', 'std_cnn_5', 'dil_cnn_5', 'cau_cnn_5',
       'max_pool', 'avg_pool', 'skip_connect', 'none']
CONVS = {'std_cnn_3': (3, 1, False), 'dil_cnn_3': (3, 2, False), 'cau_cnn_3': (3, 2, True),
         'std_cnn_5': (5, 1, False), 'dil_cnn_5': (5, 2, False), 'cau_cnn_5': (5, 2, True)}
# The cell: node -> its sources (state 0 is the cell input), edges in kdnas's row order.
EDGES = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
DERIVED = ['dil_cnn_3', 'std_cnn_5', 'skip_connect', 'cau_cnn_3', 'max_pool', 'std_cnn_3']
GAMMA, BETA, MASS_T, TAU = 0.5, 8.0, 10.0, 1.0
W_LR, W_WD, A_LR, A_WD, CLIP = 5e-3, 5e-4, 2e-5, 1e-4, 5.0


# ------------------------------------------------------------------- networks
class CausalConv1d(nn.Module):
    """[batch, c, time] -> [batch, c, time]; the output at t sees t, t-d, ..., t-(k-1)d."""

    def __init__(self, c_in, c_out, k, d):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, k, dilation=d)
        self.left = (k - 1) * d

    def forward(self, x):
        return self.conv(F.pad(x, (self.left, 0)))


class ItemEmbedding(nn.Module):
    def __init__(self, items, dim):
        super().__init__()
        bound = 1.0 / (items + 1) ** 0.5
        self.weight = nn.Parameter(torch.empty(items + 1, dim).uniform_(-bound, bound))

    def forward(self, ids):  # [batch, time] -> [batch, time, dim]
        return F.embedding(ids, self.weight) * (ids != 0).unsqueeze(2).float()


class ItemScores(nn.Module):
    def __init__(self, dim, items):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim, items + 1) * 0.01)
        self.bias = nn.Parameter(torch.full((items + 1,), 0.1))

    def forward(self, h):  # [batch, time, dim] -> [batch, time, items + 1]
        b, t, d = h.shape
        return (h.reshape(b * t, d) @ self.weight + self.bias).reshape(b, t, -1)

    def forward_last(self, h):  # [batch, time, dim] -> [batch, items + 1]
        return h[:, -1, :] @ self.weight + self.bias


def time_major(conv, x):  # channels-first conv on [batch, time, dim]
    return conv(x.transpose(1, 2)).transpose(1, 2)


class NextItNetBlock(nn.Module):
    def __init__(self, dim, k, d):
        super().__init__()
        self.conv1, self.conv2 = CausalConv1d(dim, dim, k, d), CausalConv1d(dim, dim, k, 2 * d)
        self.ln1, self.ln2 = nn.LayerNorm(dim, eps=LN_EPS), nn.LayerNorm(dim, eps=LN_EPS)
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        h = F.relu(self.ln1(time_major(self.conv1, x)))
        h = F.relu(self.ln2(time_major(self.conv2, h)))
        return x + h * self.alpha


class NextItNet(nn.Module):
    def __init__(self, items, dim, blocks, dilations=(1, 4), k=3):
        super().__init__()
        self.embedding = ItemEmbedding(items, dim)
        self.blocks = nn.ModuleList(NextItNetBlock(dim, k, dilations[i % len(dilations)]) for i in range(blocks))
        self.scores = ItemScores(dim, items)

    def forward_features(self, ids):
        embedding = self.embedding(ids)
        hidden, x = [], embedding
        for block in self.blocks:
            x = block(x)
            hidden.append(x)
        return embedding, hidden, self.scores(x)

    def forward_last(self, ids):
        x = self.embedding(ids)
        for block in self.blocks:
            x = block(x)
        return self.scores.forward_last(x)


class ConvOp(nn.Module):
    def __init__(self, c, k, d, bn, affine):
        super().__init__()
        self.conv = CausalConv1d(c, c, k, d)
        self.bn = nn.BatchNorm1d(c, affine=affine) if bn else None

    def forward(self, x):
        y = self.conv(x)
        return self.bn(y) if self.bn is not None else y


def causal_max_pool(x):
    return F.max_pool1d(F.pad(x, (2, 0), value=float('-inf')), 3, 1)


def causal_avg_pool(x):
    t = x.shape[2]
    counts = torch.arange(1, t + 1, dtype=x.dtype).clamp(max=3)
    return F.avg_pool1d(F.pad(x, (2, 0)), 3, 1) * (3.0 / counts)


def build_op(name, c, affine):
    if name in CONVS:
        k, d, bn = CONVS[name]
        return ConvOp(c, k, d, bn, affine)
    return {'max_pool': causal_max_pool, 'avg_pool': causal_avg_pool, 'skip_connect': lambda x: x}[name]


class MixedOp(nn.Module):
    """An edge's built candidates (`none` is never built); `ops` is one name for a derived edge."""

    def __init__(self, c, ops, affine):
        super().__init__()
        self.columns = [col for col, name in enumerate(ops) if name != 'none']
        built = [build_op(ops[col], c, affine) for col in self.columns]
        self.modules_ = nn.ModuleList(op for op in built if isinstance(op, nn.Module))
        self.ops = built

    def forward(self, x, w=None, selected=None, all_ops=False):
        if w is None:
            return self.ops[0](x)
        if all_ops:
            return sum(w[col] * op(x) for col, op in zip(self.columns, self.ops))
        if selected in self.columns:
            return self.ops[self.columns.index(selected)](x) * w[selected]
        return torch.zeros_like(x)


class SequenceCell(nn.Module):
    def __init__(self, c, edge_ops, affine):
        super().__init__()
        self.edges = nn.ModuleList(MixedOp(c, ops, affine) for ops in edge_ops)
        self.node_logits = nn.Parameter(torch.randn(3) * 0.01)
        self.norm = nn.LayerNorm(c, eps=LN_EPS)

    def forward(self, x, weights=None, selected=None, all_ops=False):  # [batch, time, dim]
        states = [x.transpose(1, 2)]  # each [batch, dim, time]
        relus = []
        for node in range(3):
            relus.extend(F.relu(s) for s in states[len(relus):])
            total = 0
            for e, (n, src) in enumerate(EDGES):
                if n == node:
                    w = None if weights is None else weights[e]
                    total = total + self.edges[e](relus[src], w, None if selected is None else selected[e], all_ops)
            states.append(total)
        p = F.softmax(self.node_logits, 0)
        combined = sum(p[k] * states[1 + k] for k in range(3)).transpose(1, 2)
        return x + F.relu(self.norm(combined))


class SequenceCellNetwork(nn.Module):
    def __init__(self, items, dim, cells, edge_ops, affine, dropout=0.1):
        super().__init__()
        self.embedding = ItemEmbedding(items, dim)
        self.cells = nn.ModuleList(SequenceCell(dim, edge_ops, affine) for _ in range(cells))
        self.dropout = nn.Dropout(dropout)
        self.output = ItemScores(dim, items)

    def forward_features(self, ids, weights, selected, all_ops):
        embedding = self.embedding(ids)
        x, hidden = self.dropout(embedding), []
        for cell in self.cells:
            x = cell(x, weights, selected, all_ops)
            hidden.append(x)
        return embedding, hidden, self.output(self.dropout(x))

    def forward_last(self, ids):
        x = self.embedding(ids)
        for cell in self.cells:
            x = cell(x)
        return self.output.forward_last(x)


class AdarecStudent(nn.Module):
    def __init__(self, items, dim, cells, teacher_dim):
        super().__init__()
        self.student = SequenceCellNetwork(items, dim, cells, [OPS] * len(EDGES), affine=False)
        self.embedding_projection = nn.Linear(dim, teacher_dim)
        self.hidden_projection = nn.Linear(dim, teacher_dim)


def cost_table(c):
    params = [c * c * CONVS[op][0] + c if op in CONVS else 0 for op in OPS]
    return torch.tensor(params, dtype=torch.float32) / max(params)


# ---------------------------------------------------------------------- EMD
def kl_matrix(log_p, log_q, w):
    """[P, Q]: sum over positions of w * KL(p_i || q_j), from [positions, channels] log-probabilities."""
    wp = [lp.exp() * w for lp in log_p]
    entropies = torch.stack([(a * lp).sum() for a, lp in zip(wp, log_p)])
    cross = torch.cat([a.reshape(1, -1) for a in wp]) @ torch.cat([lq.reshape(1, -1) for lq in log_q]).T
    return entropies[:, None] - cross


def exact_flow(supply, demand, cost):
    m, n = cost.shape
    a_eq = np.zeros((m + n, m * n))
    for i in range(m):
        a_eq[i, i * n:(i + 1) * n] = 1
    for j in range(n):
        a_eq[m + j, j::n] = 1
    res = linprog(cost.reshape(-1), A_eq=a_eq, b_eq=np.concatenate([supply, demand]), bounds=(0, None),
                  method='highs')
    if res.status != 0:
        sys.exit(f'EMD transport problem: {res.message}')
    return res.x.reshape(m, n)


def updated_masses(masses, costs):
    mean = np.where(masses > 0, np.maximum(costs, 0) / np.where(masses > 0, masses, 1), 0)
    scores = np.where(mean > 0, mean.sum() / np.where(mean > 0, mean, 1) / MASS_T, 0)
    e = np.exp(scores - scores.max())
    return e / e.sum()


class Emd:
    def __init__(self, m, n):
        self.student, self.teacher = np.full(m, 1.0 / m), np.full(n, 1.0 / n)

    def __call__(self, student, teacher, mask):
        b, t, c = student[0].shape
        w = mask.reshape(b * t, 1)
        w = w / w.sum().clamp_min(1)
        log_s = [F.log_softmax(s.reshape(b * t, c), 1) for s in student]
        log_t = [F.log_softmax(x.reshape(b * t, c), 1) for x in teacher]
        d = kl_matrix(log_s, log_t, w).clamp_min(0)
        with torch.no_grad():
            reverse = kl_matrix([x.detach() for x in log_t], [x.detach() for x in log_s], w).T.clamp_min(0)
        host = d.detach().double().numpy()
        flow = exact_flow(self.student, self.teacher, host)
        loss = (torch.from_numpy(flow).float() * d).sum() / flow.sum()
        self.student = updated_masses(self.student, (flow * host).sum(1))
        self.teacher = updated_masses(self.teacher, (flow * reverse.double().numpy()).sum(0))
        return loss


# ------------------------------------------------------------------- search step
def gumbel_hard(alpha, tau):
    u = torch.rand_like(alpha).clamp(1e-10, 1 - 1e-7)
    y = F.softmax((alpha - torch.log(-torch.log(u))) / tau, 1)
    selected = y.argmax(1).tolist()
    hard = F.one_hot(torch.tensor(selected), y.shape[1]).float()
    return hard - y.detach() + y, selected


def checked(loss, terms):
    """Reads the loss and its terms to the host (as the Rust loop does), failing on a non-finite value."""
    values = [loss.item()] + [x.item() for x in terms]
    if not all(map(lambda v: v == v and abs(v) != float('inf'), values)):
        sys.exit(f'non-finite loss {values}')


class Search:
    def __init__(self, args):
        self.net = AdarecStudent(args.items, args.student_dim, args.cells, args.teacher_dim)
        self.alpha = (1e-3 * torch.randn(len(EDGES), len(OPS))).requires_grad_()
        self.costs = cost_table(args.student_dim)
        self.emd = Emd(args.cells, len(range(1, args.blocks, 2)))
        self.all_ops = args.all_ops
        self.w_opt = torch.optim.AdamW(self.net.parameters(), W_LR, weight_decay=W_WD)
        self.a_opt = torch.optim.AdamW([self.alpha], A_LR, betas=(0.9, 0.999), weight_decay=A_WD)

    def loss(self, batch):
        ids, targets, mask, count, t_emb, t_hidden, t_logits = batch
        weights, selected = gumbel_hard(self.alpha, TAU)
        net = self.net
        emb, hidden, logits = net.student.forward_features(ids, weights, selected, self.all_ops)
        b, t, v = logits.shape
        ce = F.cross_entropy(logits.reshape(b * t, v), targets.reshape(-1), ignore_index=0, reduction='sum') / count
        diff = (net.embedding_projection(emb) - t_emb).pow(2).sum(2)
        embedding = (diff * mask).sum() / (count * t_emb.shape[2])
        emd = self.emd([net.hidden_projection(h) for h in hidden], t_hidden, mask)
        log_q = F.log_softmax(logits.reshape(b * t, v), 1)
        log_p = F.log_softmax(t_logits.reshape(b * t, v), 1)
        logit = ((log_p.exp() * (log_p - log_q)).sum(1) * mask.reshape(-1)).sum() / count
        cost = (weights * self.costs).sum()
        total = (1 - GAMMA) * ce + GAMMA * (embedding + emd + logit) + BETA * cost
        return total, (ce, embedding, emd, logit, cost)

    def step(self, batch):
        self.net.train()
        loss, terms = self.loss(batch)
        checked(loss, terms)
        self.w_opt.zero_grad()
        self.a_opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), CLIP)
        self.a_opt.step()
        self.w_opt.step()


def teacher_batch(teacher, ids, targets, layers):
    with torch.no_grad():
        emb, hidden, logits = teacher.forward_features(ids)
    mask = (targets != 0).float()
    count = int(mask.sum().item())
    return ids, targets, mask, count, emb, [hidden[i] for i in layers], logits


# ------------------------------------------------------------------ benchmark
def peak_mem_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def shape_fields(args):
    return (f'device=cpu threads={torch.get_num_threads()} max_len={args.max_len} items={args.items} '
            f'teacher=nextitnet-{args.blocks}x{args.teacher_dim} student=adarec-{args.cells}x{args.student_dim}')


def fields(times):
    return (f'median_ms={statistics.median(times):.1f} min_ms={min(times):.1f} max_ms={max(times):.1f} '
            f'iters={len(times)} peak_mem_mb={peak_mem_mb():.0f}')


def random_ids(args, rows, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, args.items + 1, (rows, args.max_len), generator=g)


def bench_search(args):
    torch.manual_seed(args.seed)
    teacher = NextItNet(args.items, args.teacher_dim, args.blocks).eval()
    teacher.requires_grad_(False)
    search = Search(args)
    before = search.alpha.detach().clone()
    ids, targets = random_ids(args, args.batch, args.seed + 1), random_ids(args, args.batch, args.seed + 2)
    layers = list(range(1, args.blocks, 2))
    totals, batches = [], []
    for i in range(args.warmup + args.iters):
        t0 = time.perf_counter()
        batch = teacher_batch(teacher, ids, targets, layers)
        t1 = time.perf_counter()
        search.step(batch)
        t2 = time.perf_counter()
        if i >= args.warmup:
            totals.append((t2 - t0) * 1e3)
            batches.append((t1 - t0) * 1e3)
    if torch.equal(before, search.alpha.detach()):
        sys.exit('the architecture logits did not move')
    edges = 'all_ops' if args.all_ops else 'sampled'
    print(f'adarec-step mode=single edges={edges} {shape_fields(args)} batch={args.batch} distance=KlStudentTeacher '
          f'timed=batch+teacher_forward+step batches_ms={statistics.median(batches):.1f} {fields(totals)}', flush=True)


def bench_infer(args):
    torch.manual_seed(args.seed)
    teacher = NextItNet(args.items, args.teacher_dim, args.blocks).eval()
    student = SequenceCellNetwork(args.items, args.student_dim, args.cells, [[op] for op in DERIVED], True).eval()
    users = random_ids(args, args.users, args.seed + 3)
    chunks = users.split(256)
    per_1000 = 1000.0 / args.users
    times = {'teacher': [], 'student': []}
    with torch.no_grad():
        for i in range(args.warmup + args.iters):
            for name, model in (('teacher', teacher), ('student', student)):
                t0 = time.perf_counter()
                for chunk in chunks:
                    model.forward_last(chunk)  # [users, items + 1]
                ms = (time.perf_counter() - t0) * 1e3 * per_1000
                if i >= args.warmup:
                    times[name].append(ms)
    common = f'{shape_fields(args)} users={args.users} users_per_pass=256 unit=ms_per_1000_users'
    print(f'adarec-infer model=teacher {common} {fields(times["teacher"])}', flush=True)
    speedup = statistics.median(times['teacher']) / statistics.median(times['student'])
    print(f'adarec-infer model=student genotype=fixed {common} speedup={speedup:.2f} {fields(times["student"])}',
          flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--step', choices=['search', 'infer', 'all'], default='all')
    p.add_argument('--all-ops', action='store_true',
                   help="search step evaluating every op of an edge (the authors' code), not only the sampled one")
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--max-len', type=int, default=50)
    p.add_argument('--items', type=int, default=10000)
    p.add_argument('--users', type=int, default=1000)
    p.add_argument('--teacher-dim', type=int, default=256)
    p.add_argument('--blocks', type=int, default=16)
    p.add_argument('--student-dim', type=int, default=64)
    p.add_argument('--cells', type=int, default=4)
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--iters', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--check', action='store_true',
                   help='smoke test: 1 iteration of both steps at tiny shapes, no warm-up')
    args = p.parse_args()
    if args.check:
        args.step, args.batch, args.max_len, args.items, args.users = 'all', 4, 6, 30, 10
        args.teacher_dim, args.blocks, args.student_dim, args.cells, args.warmup, args.iters = 8, 2, 4, 2, 0, 1
    torch.set_num_threads(args.threads)

    def count(m):
        return sum(q.numel() for q in m.parameters())

    teacher = NextItNet(args.items, args.teacher_dim, args.blocks)
    supernet = AdarecStudent(args.items, args.student_dim, args.cells, args.teacher_dim)
    derived = SequenceCellNetwork(args.items, args.student_dim, args.cells, [[op] for op in DERIVED], True)
    print(f'params teacher={count(teacher)} student_supernet={count(supernet.student)} '
          f'student_with_projections={count(supernet)} derived_student={count(derived)} '
          f'arch={len(EDGES) * len(OPS)}', flush=True)
    if args.step in ('search', 'all'):
        bench_search(args)
    if args.step in ('infer', 'all'):
        bench_infer(args)


if __name__ == '__main__':
    main()
