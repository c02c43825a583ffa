"""Population training: several configurations of one architecture trained as one stacked model.

On the small data sets benchmarked here one configuration's training step is a handful of small
matrix products: much of its time is Python and kernel dispatch, the rest passes over small
tensors. A population stacks the members' weights (``stacks.py``) and runs each step once for all
of them, with a fused optimizer pass per member and dropout masks from a fast generator
(``stacked.py``). Every member keeps its own learning rate and schedule, weight decay, optimizer,
dropout, batch order, initial weights and patience; it stops alone on its own validation loss
(its best weights kept, then it leaves the stack) and fails alone when its loss stops being
finite.

Who trains with whom (``plan``): members share a stack only when their layer structure allows
it (``Stack.key``; depth and activation may differ, kernel sizes may not) and their batch size is
equal (so every member's epoch ends at the same step, and one validation pass serves all).
Lockstep across batch sizes (each member on its own batches, a smaller one's rows padded and
masked) was measured and withdrawn: a member with the larger batch finishes its epochs in fewer
steps, so little is shared; two members without batch norm gained at most 17% over training
apart, batch norm over each member's own rows cost more than that, and the cost model never
chose it for populations drawn from the search spaces.
Widths differ freely and are padded with zeros, depths and (MLP) activations and batch norm may
differ at the price of cutting the member axis into pieces (``Stack.splits``). A member joins a
stack only while what it adds (its padding's arithmetic and the cuts) costs less than the
per-step overhead it saves (``STEP``: fixed figures per device type and architecture, so the
plan, and with it every score, never depends on the machine's load). On a CPU they were fitted to
pairs of configurations drawn from each space, timed apart and together
(``scripts/calibrate_stacks.py``): there only small members of similar structure share, and
large ones train alone; on a GPU (not yet measured) nearly everything shares.

A member trains the same alone as in any population: its random numbers come from its own
streams, drawn in its own shapes, and padding adds exact zeros. Members of equal widths get bit
for bit the numbers they get alone; padded ones (and grouped convolutions) may sum floats in
another order, so their scores agree to float tolerance.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from .architectures import check_input
from .modules import MODULES, build_module
from .stacked import Noise, StackedOptimizer
from .stacks import STACKS, Stack, resolved
from .trainer import (EVAL_BATCH, TrainConfig, autocast, init_weights, make_scheduler,
                      step_schedule, train)

# Per device type and architecture (None: any other), one training step's fixed cost and the cost
# of each cut of the member axis, in floating-point operations of useful work (the stacks'
# ``work`` units); the CPU's MLP and ResNet figures fitted by scripts/calibrate_stacks.py. And the
# largest stack worth building (beyond it, stacked tensors outgrow the CPU's caches).
STEP = {"cpu": {"mlp": (3.0e7, 8.5e6), "resnet": (6.1e7, 2.6e7), None: (1.5e7, 1.5e7)},
        "cuda": {None: (2e9, 2e8)}}
CAP = {"cpu": 4e8, "cuda": math.inf}
OPTIMIZER = 30.0  # an optimizer step's work per learned number, in the same units


@dataclass
class Member:
    """One configuration: its estimator, module, settings and what its training left."""

    est: object
    cfg: TrainConfig
    spec: dict
    seed: int
    module: nn.Module | None = None
    error: BaseException | None = None
    seconds: float = 0.0
    epochs: int = 0
    best_epoch: int = 0
    group: int = 1
    train_hist: list = field(default_factory=list)
    val_hist: list = field(default_factory=list)

    def start(self, device: torch.device) -> None:
        """Fresh training state (batch order, schedule, early stopping)."""
        self.gen = torch.Generator(device=device).manual_seed((self.seed * 7919 + 1) % 2**63)
        dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=self.cfg.lr)
        self.sched, self._dummy = make_scheduler(dummy, self.cfg), dummy
        dummy.step()  # a no-op, so the schedule steps without torch's order warning
        self.best, self.best_epoch, self.stale, self.snapshot = math.inf, 0, 0, None
        self.train_hist, self.val_hist, self.epochs = [], [], 0

    @property
    def lr(self) -> float:
        return float(self._dummy.param_groups[0]["lr"])


def fit_population(models: Sequence, X, y, eval_set=None) -> list[BaseException | None]:
    """Fit unfitted estimators of one architecture and task on the same rows, together.

    Each estimator ends as if fitted alone (``module_``, ``best_epoch_``, ``n_epochs_``,
    ``history_``) plus ``fit_seconds_``: its share of the wall time, each epoch's seconds divided
    among the members training in it. Returns each member's error (None when it trained).
    """
    from .estimator import runtime

    models = list(models)
    if not models:
        return []
    t0 = time.perf_counter()
    first = models[0]
    with runtime(first.threads, first.deterministic, first._device(), int(first.random_state or 0)):
        data = first._prepare(X, y, eval_set)
        for est in models[1:]:
            est._adopt(first)
        members = [_member(est) for est in models]
        try:  # a view of the wrong shape fails every member with the architecture's own message
            check_input(first.module, tuple(data.X.shape[1:]))
        except ValueError as exc:
            for m in members:
                m.error = exc
        shared = (time.perf_counter() - t0) / len(members)
        for group in plan(members, first.module, data, first.device_, first.threads):
            _train_safely(group, first.module, data, first.device_)
    for m in members:
        m.seconds += shared
        m.est._finish(m, data)
    return [m.error for m in members]


@dataclass
class Data:
    X: torch.Tensor
    Y: torch.Tensor
    Xv: torch.Tensor | None
    Yv: torch.Tensor | None
    task: str
    d_out: int


def _member(est) -> Member:
    seed = int(est.random_state or 0)
    member = Member(est, est._config(), {}, seed)
    try:
        cls = MODULES.get(est.module)
        member.spec = resolved(cls, est._module_kwargs()) if cls else est._module_kwargs()
        if member.cfg.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be adamw or sgd, got {member.cfg.optimizer!r}")
    except Exception as exc:  # noqa: BLE001 - the member fails alone
        member.error = exc
    return member


def _build(member: Member, name: str, data: Data, device: torch.device) -> None:
    """The member's own module with its own initial weights (as when trained alone)."""
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(member.seed)
        module = build_module(name, tuple(data.X.shape[1:]), data.d_out,
                              **member.est._module_kwargs())
        init_weights(module, member.cfg.init)
    member.module = module.to(device)


# ------------------------------------------------------------------ who trains with whom

def plan(members: list[Member], name: str, data: Data, device: torch.device,
         threads: int | None) -> list[list[Member]]:
    """Groups of members that train as one stack, each in a fixed order (see module doc)."""
    stack = STACKS.get(name)
    live = [m for m in members if m.error is None]
    if stack is None:
        return [[m] for m in live]
    in_shape, n = tuple(data.X.shape[1:]), len(data.X)
    costs = STEP.get(device.type, STEP["cpu"])
    overhead, cut = (c * max(1, int(threads or 1)) for c in costs.get(name, costs[None]))
    cap = CAP.get(device.type, CAP["cpu"]) * max(1, int(threads or 1))
    keys: dict = {}
    for m in live:
        rows = max(1, min(int(m.cfg.batch_size), n))
        keys.setdefault((stack.key(m.spec, in_shape), rows, m.cfg.precision), []).append(m)
    groups = []
    for (_, rows, _), same in keys.items():
        cost = lambda ms: _work(stack, ms, in_shape, data.d_out, rows, cut)  # noqa: E731
        same = sorted(same, key=lambda m: cost([m]))
        current: list[Member] = []
        for m in same:
            joined = current + [m]
            padding = cost(joined) - cost(current) - cost([m])  # what m adds to the stack's work
            if current and (padding >= overhead or cost(joined) > cap):
                groups.append(current)
                joined = [m]
            current = joined
        if current:
            groups.append(current)
    for g in groups:
        g.sort(key=lambda m: stack.order(m.spec))
        for m in g:
            m.group = len(g)
    return groups


def _work(stack: type[Stack], members: list[Member], in_shape, d_out, rows, cut: float = 0.0
          ) -> float:
    """One step's work for ``members`` stacked: each at its own depth and the stack's widths,
    plus the optimizer's pass over every member's row of the flat parameters (as long as the
    largest member's), plus ``cut`` for each cut of the member axis."""
    dims = {}
    for m in members:
        for k, v in stack.dims(m.spec).items():
            dims[k] = max(dims.get(k, 0), v)
    row = max((stack.weights(m.spec, dims, in_shape, d_out) for m in members), default=0)
    specs = sorted((m.spec for m in members), key=stack.order)
    return (sum(stack.work(m.spec, dims, in_shape, d_out, rows) + OPTIMIZER * row for m in members)
            + cut * stack.splits(specs))


# ------------------------------------------------------------------ training

def _train_safely(group: list[Member], name: str, data: Data, device: torch.device) -> None:
    """Train a group; if the stack itself fails (e.g. out of memory), its members train one by
    one, so each fails or succeeds alone. Architectures without a stack train alone on the
    reference loop."""
    if name not in STACKS:
        for m in group:
            _train_alone(m, name, data, device)
        return
    try:
        with warnings.catch_warnings():  # gradients are views of one matrix, by design
            warnings.filterwarnings("ignore", message="grad and param do not obey")
            _train(group, name, data, device)
    except Exception as exc:  # noqa: BLE001
        if len(group) == 1:
            group[0].error = exc
            return
        for m in group:
            m.group, m.error = 1, None
            _train_safely([m], name, data, device)


def _train_alone(m: Member, name: str, data: Data, device: torch.device) -> None:
    """One configuration on ``trainer.train``, seeded as every fit was before populations."""
    t0 = time.perf_counter()
    try:
        m.start(device)
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            torch.manual_seed(m.seed)
            module = build_module(name, tuple(data.X.shape[1:]), data.d_out,
                                  **m.est._module_kwargs())
            init_weights(module, m.cfg.init)
            m.module = module.to(device)
            result = train(m.module, data.X, data.Y, m.cfg, m.gen, data.Xv, data.Yv)
        m.best_epoch, m.epochs = result.best_epoch, result.epochs_run
        m.train_hist, m.val_hist = result.train_loss, result.val_loss
    except Exception as exc:  # noqa: BLE001 - the member fails alone
        m.error = exc
    m.seconds += time.perf_counter() - t0


def _train(group: list[Member], name: str, data: Data, device: torch.device) -> None:
    t0 = time.perf_counter()
    for m in group:
        try:
            m.start(device)
            _build(m, name, data, device)
        except Exception as exc:  # noqa: BLE001 - e.g. an invalid architecture setting
            m.error = exc
    members = [m for m in group if m.error is None]
    if not members:
        return
    stack = STACKS[name]([m.module for m in members], [m.spec for m in members],
                         tuple(data.X.shape[1:]), data.d_out, device)
    opt = StackedOptimizer(stack.P, [m.cfg.optimizer for m in members],
                           [m.lr for m in members], [m.cfg.weight_decay for m in members])
    noise = Noise([m.seed for m in members], device)
    setup = (time.perf_counter() - t0) / len(members)
    for m in members:
        m.seconds += setup
    epoch = 0
    while members:
        epoch += 1
        t0 = time.perf_counter()
        losses = _epoch(stack, opt, noise, members, data, device)
        val = _validation(stack, members, data, device) if data.Xv is not None else None
        rows = [r for r, m in enumerate(members)
                if _end_epoch(m, epoch, losses[r], val[r] if val else None, stack, r, opt.steps)]
        seconds = (time.perf_counter() - t0) / len(members)
        for m in members:
            m.seconds += seconds
        if not rows:
            return
        if len(rows) < len(members):
            opt.keep(rows, stack.keep(rows, (opt.m, opt.v)))
            noise.keep(rows)
            members = [members[r] for r in rows]
        opt.set_lr([m.lr for m in members])


def _epoch(stack, opt, noise, members, data: Data, device) -> list[float]:
    """One pass over each member's own permutation of the training rows, in lockstep."""
    n = len(data.X)
    perms = torch.stack([torch.randperm(n, generator=m.gen, device=device) for m in members])
    rows = max(1, min(int(members[0].cfg.batch_size), n))
    total = torch.zeros(len(members), device=device)
    precision = members[0].cfg.precision
    for start in range(0, n, rows):
        idx = perms[:, start:start + rows]
        if idx.shape[1] < 2 <= n:  # BatchNorm cannot train on a single row: drop it this epoch
            continue
        with autocast(device, precision):
            out = stack.forward(data.X[idx], True, noise)
        losses = _loss_sums(out.float(), data.Y[idx], data.task) / idx.shape[1]
        stack.zero_grad()
        losses.sum().backward()
        opt.step(stack.P, stack.G, stack.ends)
        total += losses.detach() * idx.shape[1]
    return (total / n).tolist()


@torch.no_grad()
def _validation(stack, members, data: Data, device) -> list[float]:
    k, total = len(members), torch.zeros(len(members), device=device)
    for i in range(0, len(data.Xv), EVAL_BATCH):
        x = data.Xv[i:i + EVAL_BATCH]
        with autocast(device, members[0].cfg.precision):
            out = stack.forward(x.unsqueeze(0).expand(k, *x.shape), False, None)
        y = data.Yv[i:i + EVAL_BATCH]
        total += _loss_sums(out.float(), y.unsqueeze(0).expand(k, *y.shape), data.task)
    return (total / len(data.Xv)).tolist()


def _loss_sums(out: torch.Tensor, target: torch.Tensor, task: str) -> torch.Tensor:
    """Per member (k,): summed cross-entropy against probability targets, or squared error."""
    if task == "classification":
        return -(target * torch.log_softmax(out, dim=-1)).sum(dim=(1, 2))
    return ((out - target) ** 2).sum(dim=(1, 2))


def _end_epoch(m: Member, epoch: int, train: float, val: float | None, stack: Stack, row: int,
               steps: int) -> bool:
    """The single trainer's epoch end for one member; True while it goes on training."""
    m.epochs = epoch
    if not math.isfinite(train):
        m.error = FloatingPointError(f"non-finite training loss at epoch {epoch}")
        return False
    m.train_hist.append(train)
    monitored = train
    if val is not None:
        if not math.isfinite(val):
            m.error = FloatingPointError(f"non-finite validation loss at epoch {epoch}")
            return False
        m.val_hist.append(val)
        monitored = val
    step_schedule(m.sched, monitored)  # plateau follows validation loss, or training loss (refit)
    stop = epoch >= int(m.cfg.max_epochs)
    if val is not None:
        if val < m.best:
            m.best, m.best_epoch, m.stale = val, epoch, 0
            m.snapshot = stack.export(row, m.module)
        else:
            m.stale += 1
            stop = stop or m.stale >= int(m.cfg.patience)
    if stop:
        if val is None or m.snapshot is None:
            m.best_epoch, m.snapshot = epoch, stack.export(row, m.module)
        Stack.load(m.module, m.snapshot, steps)
    return not stop
