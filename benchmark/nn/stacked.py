"""Building blocks of a population: tensors whose leading axis is the member.

Members of one architecture may differ in width, depth, activation, batch norm, optimizer,
learning rate, weight decay and dropout. Widths are padded with zeros, which stay exactly zero in
training (their weights get no gradient), so padding changes no member's numbers beyond the order
of float sums. Members are kept sorted by depth, so a layer that only the deeper members have is a
prefix of the member axis (a view, no copy); activations and batch norm that differ are applied
per run of consecutive members that share them; each member's optimizer is its own fused pass.

Every random number a member uses comes from its own streams and is drawn in the shape of its
own (unpadded) network, so a member trains the same alone or in any population.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

BETAS, EPS, MOMENTUM = (0.9, 0.999), 1e-8, 0.9  # AdamW's and Nesterov SGD's fixed settings


def runs(values: Sequence) -> list[tuple[int, int, object]]:
    """``(start, end, value)`` for each run of equal consecutive values."""
    out, start = [], 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            out.append((start, i, values[start]))
            start = i
    return out


def by_runs(h: torch.Tensor, spans, fn: Callable) -> torch.Tensor:
    """``fn(value, start, end, piece)`` on each run's slice of the member axis, concatenated."""
    if len(spans) == 1:
        return fn(spans[0][2], 0, len(h), h)  # no slice: its backward would copy
    return torch.cat([fn(v, lo, hi, h[lo:hi]) for lo, hi, v in spans])


def pad_into(dst: torch.Tensor, row: int, src: torch.Tensor) -> None:
    """Write ``src`` into the leading corner of ``dst[row]`` (the rest stays padding)."""
    dst[row][tuple(slice(0, s) for s in src.shape)] = src


def corner(src: torch.Tensor, row: int, shape: Sequence[int]) -> torch.Tensor:
    return src[row][tuple(slice(0, s) for s in shape)]


def batch_norm(h: torch.Tensor, weight, bias, mean, var, training: bool) -> torch.Tensor:
    """Batch norm of member-major ``h`` (k, B, C): statistics per member and channel over rows,
    running statistics updated in place. Members side by side as channels of torch's own
    kernel, which is faster than composing the statistics from smaller operations."""
    k, rows, c = h.shape
    if k == 1:  # fewer views: each is a node of the backward graph
        return torch.batch_norm(h.view(rows, c), weight.view(c), bias.view(c), mean.view(c),
                                var.view(c), training, 0.1, 1e-5, torch.backends.cudnn.enabled).view(1, rows, c)
    x = h.transpose(0, 1).reshape(rows, k * c)
    y = torch.batch_norm(x, weight.reshape(-1), bias.reshape(-1), mean.view(-1), var.view(-1),
                         training, 0.1, 1e-5, torch.backends.cudnn.enabled)  # F.batch_norm's call
    return y.view(rows, k, c).transpose(0, 1)


class Noise:
    """Uniform numbers for dropout, one stream per member (numpy's generator on CPU, several times
    faster than torch's there; torch's on a GPU). Buffers start at 1, which dropout always keeps,
    so members that draw nothing (p = 0) and padding need no writing."""

    def __init__(self, seeds: Sequence[int], device: torch.device):
        self.device = device
        if device.type == "cpu":
            self.streams = [np.random.default_rng([int(s), 2]) for s in seeds]
        else:
            self.streams = [torch.Generator(device=device).manual_seed(int(s) * 3 + 2)
                            for s in seeds]
        self._buffers: dict = {}
        self._numpy: dict = {}

    def keep(self, rows: Sequence[int]) -> None:
        self.streams = [self.streams[i] for i in rows]
        self._buffers.clear()
        self._numpy.clear()

    def _rates(self, rate: tuple[torch.Tensor, torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
        """A stack's (rates, scales) as flat numpy arrays, converted once (the tensors are kept
        with them, so their ids stay theirs)."""
        key = tuple(id(r) for r in rate)
        if key not in self._numpy:
            self._numpy[key] = (rate, tuple(r.detach().reshape(-1).numpy() for r in rate))
        return self._numpy[key][1]

    def mask(self, site, shape: tuple, shapes: Sequence[tuple | None],
             rate: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """(len(shapes), *shape) inverted-dropout factors: in member i's ``shapes[i]`` corner,
        its scale where a uniform number from its stream is at least its rate, else 0 (None:
        nothing drawn); the rest 1. On a CPU built in numpy, member by member, so that a step
        adds one multiplication per site to the graph."""
        key = (site, len(shapes), shape)
        cpu = self.device.type == "cpu"
        if key not in self._buffers:
            self._buffers[key] = (np.ones((len(shapes), *shape), np.float32) if cpu
                                  else torch.ones((len(shapes), *shape), device=self.device))
        buf = self._buffers[key]
        p, scale = self._rates(rate) if cpu else (r.reshape(-1) for r in rate)
        for i, own in enumerate(shapes):
            if own is None:
                continue
            at = (i, *(slice(0, s) for s in own))
            if cpu:
                u = self.streams[i].random(own, dtype=np.float32)
                np.multiply(u >= p[i], scale[i], out=buf[at])
            else:
                u = torch.rand(own, generator=self.streams[i], device=self.device)
                buf[at] = (u >= p[i]).float() * scale[i]
        return torch.from_numpy(buf) if cpu else buf


def rates(p: torch.Tensor, dims: int, axis: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-member dropout rates (k,) and their inverted-dropout scales, shaped to broadcast
    along a tensor of ``dims`` dimensions whose member axis is ``axis``."""
    view = [1] * dims
    view[axis] = -1
    return p.view(view), (1.0 / (1.0 - p.clamp_max(0.999))).view(view)


class StackedOptimizer:
    """Each member's own AdamW or Nesterov SGD (momentum 0.9), learning rate and weight decay,
    on its row of a population's flat parameters ``P`` (gradients ``G``): torch's fused kernels,
    one memory pass per member and step, with torch's own numbers.

    A member's row holds its tensors first (``ends``: where its own columns end), so padding
    columns of layers it does not have are never updated.
    """

    def __init__(self, P: torch.Tensor, kinds: Sequence[str], lr: Sequence[float],
                 weight_decay: Sequence[float]):
        for kind in kinds:
            if kind not in ("adamw", "sgd"):
                raise ValueError(f"optimizer must be adamw or sgd, got {kind!r}")
        self.kinds, self.wd, self.lr = list(kinds), list(weight_decay), [float(x) for x in lr]
        self.m, self.v = torch.zeros_like(P), torch.zeros_like(P)
        self.steps = 0
        self._step = torch.zeros((), device=P.device)  # every member steps in lockstep

    def set_lr(self, lr: Sequence[float]) -> None:
        self.lr = [float(x) for x in lr]

    def keep(self, rows: Sequence[int], states: Sequence[torch.Tensor]) -> None:
        """Only the members at ``rows`` go on, with their ``states`` (moment estimates)."""
        self.kinds, self.wd = [self.kinds[i] for i in rows], [self.wd[i] for i in rows]
        self.lr = [self.lr[i] for i in rows]
        self.m, self.v = states

    @torch.no_grad()
    def step(self, P: torch.Tensor, G: torch.Tensor, ends: Sequence[int]) -> None:
        self.steps += 1
        self._step.fill_(self.steps)
        for i, (kind, lr, wd, end) in enumerate(zip(self.kinds, self.lr, self.wd, ends)):
            p, g, m = [P[i, :end]], [G[i, :end]], [self.m[i, :end]]
            if kind == "adamw":
                torch._fused_adamw_(p, g, m, [self.v[i, :end]], [], [self._step], amsgrad=False,
                                    lr=lr, beta1=BETAS[0], beta2=BETAS[1], weight_decay=wd,
                                    eps=EPS, maximize=False)
            else:
                torch._fused_sgd_(p, g, m, weight_decay=wd, momentum=MOMENTUM, lr=lr,
                                  dampening=0.0, nesterov=True, maximize=False,
                                  is_first_step=self.steps == 1)


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    fns = {"relu": torch.relu, "gelu": F.gelu, "silu": F.silu}
    if name not in fns:
        raise ValueError(f"activation must be one of {sorted(fns)}, got {name!r}")
    return fns[name]
