"""The four architectures as stacks: k members' weights in padded tensors with a member axis.

Each member is first built as its own module (``modules.py``) and initialised there, so its
initial weights are those it would have alone; the stack copies them in, trains them with one
batched matrix product or grouped convolution per layer for all members, and copies a member's
weights back out (``export``) for its early-stopping snapshot and its final module.

Entries name each member tensor by a role ``(kind, layer)``; a role's tensor has one row per
member up to the last member that has it (members are sorted deepest first, so a layer's members
are a prefix) and the largest member's shape, the rest zero padding. Padding changes nothing:
padded units compute 0 from zero weights and zero bias, every activation here maps 0 to 0, and
their weights receive zero gradients, so they stay 0.
"""
from __future__ import annotations

import inspect
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .modules import CNN1D, CNN2D, MLP, ResNetMLP, _ConvBlock
from .stacked import Noise, activation, batch_norm, by_runs, corner, pad_into, rates, runs

ONES = {"g", "v", "g2", "v2", "hg", "hv"}  # batch-norm weights and variances start at 1


def resolved(cls, kwargs: dict) -> dict:
    """A module's keyword arguments with its defaults filled in."""
    params = inspect.signature(cls).parameters
    return {k: kwargs.get(k, p.default) for k, p in params.items()
            if p.default is not inspect.Parameter.empty}


def _whole(n: int, vector: int = 64) -> int:
    return -(-n // vector) * vector


def _layout(t: torch.Tensor, layout: str) -> torch.Tensor:
    return t.t() if layout == "T" else t.unsqueeze(0) if layout == "row" else t


def _unlayout(t: torch.Tensor, layout: str) -> torch.Tensor:
    return t.t() if layout == "T" else t.squeeze(0) if layout == "row" else t


class Stack:
    """Members sorted by ``order``; subclasses define entries, keys, work and forward."""

    cls: type = nn.Module

    def __init__(self, modules: Sequence[nn.Module], specs: Sequence[dict], in_shape: tuple,
                 d_out: int, device: torch.device):
        self.in_shape, self.d_out, self.device = tuple(in_shape), int(d_out), device
        self.specs = list(specs)
        entries = [self.entries(m) for m in modules]
        self.owned = [{r: _layout(t, lay).shape for r, (t, lay) in e.items()} for e in entries]
        self.learned = {r for e in entries for r, (t, _) in e.items()
                        if isinstance(t, nn.Parameter)}
        self._allocate()
        with torch.no_grad():
            for i, e in enumerate(entries):
                for r, (src, layout) in e.items():
                    pad_into(self.t[r], i, _layout(src.detach().to(self.device), layout))

    def _allocate(self) -> None:
        """Tensors for the current members, padded to the largest of them: learned roles as
        columns of one flat parameter matrix ``P`` (a row per member), buffers apart."""
        self.size = {}
        for spec in self.specs:
            for name, value in self.dims(spec).items():
                self.size[name] = max(self.size.get(name, 0), value)
        roles = []
        for own in self.owned:
            roles += [r for r in own if r not in roles]
        self.rows = {r: 1 + max(i for i, own in enumerate(self.owned) if r in own) for r in roles}
        # columns by how many members hold a role, so each member's own tensors come first
        self.layout, n = {}, 0
        for r in sorted((r for r in roles if r in self.learned), key=lambda r: -self.rows[r]):
            self.layout[r] = (n, n + math.prod(self.shape(r)))
            n = self.layout[r][1]
        # fused optimizer kernels treat a tensor's last few elements apart (a vector tail), so
        # every member's span is a whole number of vectors: its numbers then never depend on
        # where its tensors sit in the row, alone or in any population
        self.ends = [_whole(max((hi for r, (_, hi) in self.layout.items() if self.rows[r] > i),
                                default=0)) for i in range(len(self.specs))]
        self.P = torch.zeros((len(self.specs), _whole(n)), device=self.device)
        self.buffers = {r: torch.zeros((self.rows[r], *self.shape(r)), device=self.device)
                        for r in roles if r not in self.learned}
        self._views()
        with torch.no_grad():
            for r in roles:
                if r[0] in ONES:
                    self.t[r].fill_(1.0)

    def _views(self) -> None:
        """Each learned role as a leaf view of ``P`` whose gradient is a view of ``G``, so one
        optimizer step updates every member's every tensor at once."""
        self.G = torch.zeros_like(self.P)
        self.t = dict(self.buffers)
        for r in self.layout:
            view = self.role(self.P, r).detach().requires_grad_(True)
            view.grad = self.role(self.G, r)
            self.t[r] = view
        self._refresh()

    def role(self, flat: torch.Tensor, r: tuple) -> torch.Tensor:
        """A learned role's rows of a flat matrix in ``P``'s layout (parameters, gradients,
        optimizer states), shaped."""
        lo, hi = self.layout[r]
        return flat[:self.rows[r], lo:hi].view(self.rows[r], *self.shape(r))

    # ------------------------------------------------------------ per architecture
    @staticmethod
    def entries(module: nn.Module) -> dict:
        """role -> (the member module's tensor, layout): ``T`` transposed, ``row`` a bias."""
        raise NotImplementedError

    def shape(self, role: tuple) -> tuple:
        """A role's padded per-member shape (in its stacked layout)."""
        raise NotImplementedError

    @staticmethod
    def order(spec: dict) -> tuple:
        """Sort key: deepest first, then what is applied per run."""
        return ()

    @staticmethod
    def splits(specs: Sequence[dict]) -> int:
        """How many times one training step cuts the member axis of ``specs`` (in ``order``)
        into pieces and joins them again: a layer only the deeper members have, an activation
        or batch norm applied per run. Each cut is a few more small operations per step."""
        return 0

    @staticmethod
    def key(spec: dict, in_shape: tuple) -> tuple:
        """Members with different keys never share a stack (their layer structure differs)."""
        return ()

    @staticmethod
    def dims(spec: dict) -> dict:
        """The sizes that padding may raise."""
        return {}

    @staticmethod
    def work(spec: dict, dims: dict, in_shape: tuple, d_out: int, rows: int) -> float:
        """Floating-point operations of one training step (forward and backward)."""
        raise NotImplementedError

    @staticmethod
    def weights(spec: dict, dims: dict, in_shape: tuple, d_out: int) -> float:
        """Learned numbers (what the optimizer updates each step)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, train: bool, noise: Noise | None) -> torch.Tensor:
        raise NotImplementedError

    def _refresh(self) -> None:
        """Per-member vectors and runs, after building or dropping members."""

    def has(self, role: tuple) -> bool:
        return role in self.t and self.t[role].shape[0] > 0

    # ------------------------------------------------------------ shared
    def zero_grad(self) -> None:
        self.G.zero_()

    @torch.no_grad()
    def keep(self, rows: Sequence[int], states: Sequence[torch.Tensor] = ()) -> list[torch.Tensor]:
        """Only the members at ``rows`` (ascending) go on. ``states`` (the optimizer's, in
        ``P``'s layout) are returned for them. When the widest member left, the rest are
        repacked at their own largest width, so a narrow member never trains padded alone."""
        rows = list(rows)
        size, old_t = self.size, dict(self.t)
        old_layout, old_rows = dict(self.layout), dict(self.rows)
        self.specs = [self.specs[i] for i in rows]
        self.owned = [self.owned[i] for i in rows]
        same = {n: max(self.dims(s)[n] for s in self.specs) for n in size} == size
        if same and all(sum(i < k for i in rows) for k in old_rows.values()):
            index = torch.tensor(rows, dtype=torch.long, device=self.device)
            self.P = self.P.index_select(0, index)
            for r, t in self.buffers.items():
                self.buffers[r] = t.index_select(0, index[index < t.shape[0]])
            self.rows = {r: sum(i < k for i in rows) for r, k in self.rows.items()}
            self.ends = [self.ends[i] for i in rows]
            self._views()
            return [s.index_select(0, index) for s in states]
        old_shapes = {r: tuple(t.shape[1:]) for r, t in old_t.items()}
        self._allocate()
        moved = [torch.zeros_like(self.P) for _ in states]
        for j, i in enumerate(rows):
            for r, shape in self.owned[j].items():
                at = (j, *(slice(0, n) for n in shape))
                was = (i, *(slice(0, n) for n in shape))
                self.t[r][at] = old_t[r][was]
                if r in self.layout:
                    lo, hi = old_layout[r]
                    for new, prev in zip(moved, states):
                        view = prev[:old_rows[r], lo:hi].view(-1, *old_shapes[r])
                        self.role(new, r)[at] = view[was]
        return moved

    @torch.no_grad()
    def export(self, row: int, module: nn.Module) -> list[torch.Tensor]:
        """Member ``row``'s tensors, unpadded, in its module's entry order (a snapshot)."""
        out = []
        for role, (t, layout) in self.entries(module).items():
            shape = _layout(t, layout).shape
            out.append(_unlayout(corner(self.t[role], row, shape), layout).detach().clone())
        return out

    @staticmethod
    @torch.no_grad()
    def load(module: nn.Module, tensors: list[torch.Tensor], steps: int) -> None:
        """Write a snapshot into the member's own module."""
        for (t, _), value in zip(type_entries(module).values(), tensors):
            t.copy_(value.to(t.device))
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.num_batches_tracked.fill_(steps)

    def _vector(self, name: str) -> torch.Tensor:
        return torch.tensor([float(s[name]) for s in self.specs], device=self.device)

    def _rates(self, name: str, dims: int, axis: int = 0):
        return rates(self._vector(name), dims, axis)

    def _drop(self, h, site, rate, shapes: list, noise: Noise, axis: int = 0):
        """Dropout for the first ``len(shapes)`` members, member axis at ``axis``."""
        if noise is None or all(s is None for s in shapes):
            return h
        mask = noise.mask(site, tuple(h.shape[:axis] + h.shape[axis + 1:]), shapes, rate)
        return h * (mask.movedim(0, axis) if axis else mask)


def _span(t: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    return t if lo == 0 and hi == len(t) else t[lo:hi]


def type_entries(module: nn.Module) -> dict:
    return STACKS[_name_of(module)].entries(module)


def _name_of(module: nn.Module) -> str:
    return next(n for n, s in STACKS.items() if isinstance(module, s.cls))


def _linear(entries: dict, kind: tuple, lin: nn.Linear) -> None:
    entries[("w" + kind[0], kind[1])] = (lin.weight, "T")
    entries[("b" + kind[0], kind[1])] = (lin.bias, "row")


def _bn(entries: dict, suffix: str, layer: int, bn) -> None:
    for kind, t in (("g", bn.weight), ("e", bn.bias), ("m", bn.running_mean),
                    ("v", bn.running_var)):
        entries[(kind + suffix if suffix != "h" else "h" + kind, layer)] = (t, "")


class MLPStack(Stack):
    cls = MLP

    @staticmethod
    def entries(module):
        out = {}
        lins = [m for m in module.body if isinstance(m, nn.Linear)]
        bns = {i: m for i, m in enumerate([m for m in module.body
                                           if isinstance(m, nn.BatchNorm1d)])}
        for l, lin in enumerate(lins):
            _linear(out, ("", l), lin)
            if l in bns:
                _bn(out, "", l, bns[l])
        _linear(out, ("h", 0), module.head)
        return out

    def shape(self, role):
        w, d_in = self.size["width"], self.in_shape[-1]
        deep = any(int(s["depth"]) for s in self.specs)
        return {"w": (d_in if role[1] == 0 else w, w), "b": (1, w), "wh": (w if deep else d_in,
                self.d_out), "bh": (1, self.d_out)}.get(role[0], (w,))

    @staticmethod
    def order(spec):
        return (-int(spec["depth"]), spec["activation"], bool(spec["batch_norm"]))

    @staticmethod
    def splits(specs):
        depths, cuts = [int(s["depth"]) for s in specs], 0
        for l in range(max(depths, default=0)):
            inner = [s for s, d in zip(specs, depths) if d > l]
            bn = [bool(s["batch_norm"]) for s in inner]
            cuts += (len(inner) < len(specs)) + len(runs([s["activation"] for s in inner])) - 1
            cuts += len(runs(bn)) - 1 if any(bn) else 0
        return cuts

    @staticmethod
    def key(spec, in_shape):
        return (int(spec["depth"]) == 0,)

    @staticmethod
    def dims(spec):
        return {"width": int(spec["width"])}

    @staticmethod
    def work(spec, dims, in_shape, d_out, rows):
        macs = MLPStack.weights(spec, dims, in_shape, d_out)
        return 6.0 * rows * macs + 30.0 * rows * dims["width"] * int(spec["depth"])

    @staticmethod
    def weights(spec, dims, in_shape, d_out):
        d, w = int(spec["depth"]), dims["width"]
        return (in_shape[-1] * w + (d - 1) * w * w + w * d_out) if d else in_shape[-1] * d_out

    def _refresh(self):
        self.p = self._rates("dropout", 3)
        depths = [int(s["depth"]) for s in self.specs]
        self.layers = max(depths, default=0)
        prefix = [sum(d > l for d in depths) for l in range(self.layers)]
        self.act_runs = [runs([s["activation"] for s in self.specs[:k]]) for k in prefix]
        self.bn_runs = [runs([bool(s["batch_norm"]) for s in self.specs[:k]]) for k in prefix]

    def forward(self, x, train, noise):
        h, k, t = x, x.shape[0], self.t
        for l in range(self.layers):
            w = t[("w", l)]
            kl = w.shape[0]
            z = torch.baddbmm(t[("b", l)], h if kl == k else h[:kl], w)
            if any(on for _, _, on in self.bn_runs[l]):
                z = by_runs(z, self.bn_runs[l], lambda on, lo, hi, piece, l=l: batch_norm(
                    piece, *(_span(t[(c, l)], lo, hi) for c in "gemv"), train) if on else piece)
            z = by_runs(z, self.act_runs[l], lambda a, lo, hi, piece: activation(a)(piece))
            if train:
                shapes = [(z.shape[1], int(s["width"])) if float(s["dropout"]) > 0 else None
                          for s in self.specs[:kl]]
                z = self._drop(z, ("mlp", l), self.p, shapes, noise)
            h = z if kl == k else torch.cat([z, h[kl:]])
        return torch.baddbmm(t[("bh", 0)], h, t[("wh", 0)])


class ResNetStack(Stack):
    cls = ResNetMLP

    @staticmethod
    def entries(module):
        out = {}
        _linear(out, ("f", 0), module.first)
        for l, block in enumerate(module.blocks):
            _bn(out, "", l, block.f[0])
            _linear(out, ("1", l), block.f[1])
            _linear(out, ("2", l), block.f[4])
        _bn(out, "h", 0, module.head[0])
        _linear(out, ("h", 0), module.head[2])
        return out

    def shape(self, role):
        m, h = self.size["d_main"], self.size["d_hidden"]
        return {"wf": (self.in_shape[-1], m), "bf": (1, m), "w1": (m, h), "b1": (1, h),
                "w2": (h, m), "b2": (1, m), "wh": (m, self.d_out), "bh": (1, self.d_out)
                }.get(role[0], (m,))

    @staticmethod
    def order(spec):
        return (-int(spec["n_blocks"]),)

    @staticmethod
    def splits(specs):
        blocks = [int(s["n_blocks"]) for s in specs]
        return sum(sum(b > l for b in blocks) < len(blocks) for l in range(max(blocks, default=0)))

    @staticmethod
    def dims(spec):
        d_main = int(spec["d_main"])
        return {"d_main": d_main,
                "d_hidden": max(1, int(round(d_main * float(spec["d_hidden_factor"]))))}

    @staticmethod
    def work(spec, dims, in_shape, d_out, rows):
        m, h, b = dims["d_main"], dims["d_hidden"], int(spec["n_blocks"])
        macs = ResNetStack.weights(spec, dims, in_shape, d_out)
        return 6.0 * rows * macs + 40.0 * rows * (b * (m + h) + m)

    @staticmethod
    def weights(spec, dims, in_shape, d_out):
        m, h, b = dims["d_main"], dims["d_hidden"], int(spec["n_blocks"])
        return in_shape[-1] * m + b * 2 * m * h + m * d_out

    def _refresh(self):
        self.p_hidden = self._rates("hidden_dropout", 3)
        self.p_residual = self._rates("residual_dropout", 3)
        blocks = [int(s["n_blocks"]) for s in self.specs]
        self.blocks = max(blocks, default=0)

    def forward(self, x, train, noise):
        t, k = self.t, x.shape[0]
        h = torch.baddbmm(t[("bf", 0)], x, t[("wf", 0)])
        for l in range(self.blocks):
            w1 = t[("w1", l)]
            kl, rows = w1.shape[0], x.shape[1]
            x = h if kl == k else h[:kl]
            z = batch_norm(x, t[("g", l)], t[("e", l)], t[("m", l)], t[("v", l)], train)
            z = torch.relu(torch.baddbmm(t[("b1", l)], z, w1))
            if train:
                z = self._drop(z, ("hidden", l), self.p_hidden, [
                    (rows, self.dims(s)["d_hidden"]) if float(s["hidden_dropout"]) > 0 else None
                    for s in self.specs[:kl]], noise)
            z = torch.baddbmm(t[("b2", l)], z, t[("w2", l)])
            if train:
                z = self._drop(z, ("residual", l), self.p_residual, [
                    (rows, int(s["d_main"])) if float(s["residual_dropout"]) > 0 else None
                    for s in self.specs[:kl]], noise)
            z = x + z
            h = z if kl == k else torch.cat([z, h[kl:]])
        h = torch.relu(batch_norm(h, t[("hg", 0)], t[("he", 0)], t[("hm", 0)], t[("hv", 0)], train))
        return torch.baddbmm(t[("bh", 0)], h, t[("wh", 0)])


class CNN1DStack(Stack):
    """Grouped 1D convolutions (one group per member) on (B, k * channels, L)."""

    cls = CNN1D

    @staticmethod
    def entries(module):
        out = {}
        for l, conv in enumerate(module.convs):
            out[("cw", l)], out[("cb", l)] = (conv.weight, ""), (conv.bias, "")
        _linear(out, ("h", 0), module.head)
        return out

    def shape(self, role):
        c, ks = self.size["channels"], int(self.specs[0]["kernel_size"])
        return {"cw": (c, self.in_shape[-1] if role[1] == 0 else c, ks), "cb": (c,),
                "wh": (c, self.d_out), "bh": (1, self.d_out)}[role[0]]

    @staticmethod
    def key(spec, in_shape):
        return tuple(spec[k] for k in ("n_layers", "kernel_size", "dilation", "pooling"))

    @staticmethod
    def dims(spec):
        return {"channels": int(spec["channels"])}

    @staticmethod
    def work(spec, dims, in_shape, d_out, rows):
        c, ks, n = dims["channels"], int(spec["kernel_size"]), int(spec["n_layers"])
        length, alphabet = in_shape[0], in_shape[-1]
        macs = length * ks * (alphabet * c + max(n - 1, 0) * c * c / 2) + c * d_out
        return 6.0 * rows * macs + 30.0 * rows * length * c * n

    @staticmethod
    def weights(spec, dims, in_shape, d_out):
        c, ks, n = dims["channels"], int(spec["kernel_size"]), int(spec["n_layers"])
        return ks * (in_shape[-1] * c + max(n - 1, 0) * c * c) + c * d_out

    def _refresh(self):
        self.p = self._rates("dropout", 4, axis=1)
        s = self.specs[0] if self.specs else {}
        self.n_layers = int(s.get("n_layers", 0))
        self.pad = int(s.get("dilation", 1)) * (int(s.get("kernel_size", 1)) - 1) // 2
        self.dilation, self.pooling = int(s.get("dilation", 1)), s.get("pooling", "max")

    def forward(self, x, train, noise):
        t, (k, rows, length, alphabet) = self.t, x.shape
        m = (x.abs().sum(-1) > 0).to(x.dtype).transpose(0, 1).unsqueeze(2)  # (B, k, 1, L)
        h = x.permute(1, 0, 3, 2).reshape(rows, k * alphabet, length)
        c = 0
        for i in range(self.n_layers):
            w = t[("cw", i)]
            c = w.shape[1]
            h = F.conv1d(h, w.reshape(k * c, *w.shape[2:]), t[("cb", i)].reshape(-1),
                         padding=self.pad, dilation=self.dilation, groups=k)
            h = torch.relu(h).view(rows, k, c, -1)
            if train:
                shapes = [(rows, int(s["channels"]), h.shape[-1]) if float(s["dropout"]) > 0
                          else None for s in self.specs]
                h = self._drop(h, ("conv", i), self.p, shapes, noise, axis=1)
            h = (h * m).view(rows, k * c, -1)
            if i < self.n_layers - 1 and h.shape[-1] > 1:
                h, m = self._pool(h, m, rows, k, c)
        valid = m > 0
        pooled = h.view(rows, k, c, -1).masked_fill(~valid, float("-inf")).amax(-1)
        pooled = torch.where(valid.any(-1), pooled, torch.zeros_like(pooled))  # empty sequence
        return torch.baddbmm(t[("bh", 0)], pooled.transpose(0, 1), t[("wh", 0)])

    def _pool(self, h, m, rows, k, c):
        mk = m.view(rows, k, -1)
        if self.pooling == "max":  # h >= 0 and zero at padding: a plain max is masked
            pooled = F.max_pool1d(mk, 2, ceil_mode=True).unsqueeze(2)
            return F.max_pool1d(h, 2, ceil_mode=True), pooled
        count = F.avg_pool1d(mk, 2, ceil_mode=True).unsqueeze(2)
        mean = F.avg_pool1d(h, 2, ceil_mode=True).view(rows, k, c, -1) / count.clamp_min(1e-12)
        return (mean * (count > 0)).view(rows, k * c, -1), (count > 0).to(h.dtype)


class CNN2DStack(Stack):
    """Grouped 2D convolutions (one group per member) on (B, k * channels, H, W)."""

    cls = CNN2D

    @staticmethod
    def entries(module):
        out = {}
        blocks = [m for m in module.body if isinstance(m, _ConvBlock)]
        for j, b in enumerate(blocks):
            out[("a", j)] = (b.conv1.weight, "")
            _bn(out, "", j, b.bn1)
            out[("z", j)] = (b.conv2.weight, "")
            _bn(out, "2", j, b.bn2)
            if isinstance(b.skip, nn.Conv2d):
                out[("s", j)] = (b.skip.weight, "")
        _linear(out, ("h", 0), module.head)
        return out

    def shape(self, role):
        kind, j = role
        c = self.size["channels"] * 2 ** j
        c_in = int(self.in_shape[0]) if j == 0 else c // 2
        last = self.size["channels"] * 2 ** (int(self.specs[0]["n_blocks"]) - 1)
        return {"a": (c, c_in, 3, 3), "z": (c, c, 3, 3), "s": (c, c_in, 1, 1),
                "wh": (last, self.d_out), "bh": (1, self.d_out)}.get(kind, (c,))

    @staticmethod
    def key(spec, in_shape):
        identity = int(in_shape[0]) == int(spec["channels"])  # block 0's skip needs no conv
        return (int(spec["n_blocks"]), spec["block"], identity and spec["block"] == "residual")

    @staticmethod
    def dims(spec):
        return {"channels": int(spec["channels"])}

    @staticmethod
    def work(spec, dims, in_shape, d_out, rows):
        c_in, h, w = (int(s) for s in in_shape)
        macs, c = 0.0, c_in
        for j in range(int(spec["n_blocks"])):
            c_out = dims["channels"] * 2 ** j
            macs += h * w * 9 * (c * c_out + c_out * c_out) + h * w * c * c_out
            if min(h, w) >= 2:
                h, w = h // 2, w // 2
            c = c_out
        return 6.0 * rows * macs

    @staticmethod
    def weights(spec, dims, in_shape, d_out):
        total, c = 0.0, int(in_shape[0])
        for j in range(int(spec["n_blocks"])):
            c_out = dims["channels"] * 2 ** j
            total += 9 * (c * c_out + c_out * c_out) + c * c_out
            c = c_out
        return total + c * d_out

    def _refresh(self):
        self.p = self._rates("dropout", 3, axis=1)
        s = self.specs[0] if self.specs else {}
        c, h, w = (int(v) for v in self.in_shape)
        self.pool = []
        for _ in range(int(s.get("n_blocks", 0))):
            self.pool.append(min(h, w) >= 2)
            if self.pool[-1]:
                h, w = h // 2, w // 2

    def forward(self, x, train, noise):
        t, k, rows = self.t, x.shape[0], x.shape[1]
        # channels-last: the CPU's convolution and pooling kernels run it about 1.4 times faster
        h = x.transpose(0, 1).reshape(rows, k * x.shape[2], *x.shape[3:])
        h = h.contiguous(memory_format=torch.channels_last)
        for j, pool in enumerate(self.pool):
            y = self._bn(self._conv(h, ("a", j), 1, k), "", j, train)
            y = self._bn(self._conv(torch.relu(y), ("z", j), 1, k), "2", j, train)
            if self.has(("s", j)):
                y = y + self._conv(h, ("s", j), 0, k)
            elif self.specs[0]["block"] == "residual":
                y = y + h
            h = torch.relu(y)
            if pool:
                h = F.max_pool2d(h, 2)
        c = h.shape[1] // k
        # mean over H, W rather than AdaptiveAvgPool2d: its CUDA backward is not deterministic
        pooled = h.mean(dim=(2, 3)).view(rows, k, c)
        if train:
            shapes = [(rows, int(s["channels"]) * 2 ** (len(self.pool) - 1))
                      if float(s["dropout"]) > 0 else None for s in self.specs]
            pooled = self._drop(pooled, ("head",), self.p, shapes, noise, axis=1)
        return torch.baddbmm(self.t[("bh", 0)], pooled.transpose(0, 1), self.t[("wh", 0)])

    def _conv(self, h, role, padding, k):
        w = self.t[role]
        w = w.reshape(k * w.shape[1], *w.shape[2:]).contiguous(memory_format=torch.channels_last)
        return F.conv2d(h, w, None, padding=padding, groups=k)

    def _bn(self, y, suffix, j, train):
        t = self.t
        return F.batch_norm(y, t[("m" + suffix, j)].view(-1), t[("v" + suffix, j)].view(-1),
                            t[("g" + suffix, j)].reshape(-1), t[("e" + suffix, j)].reshape(-1),
                            training=train, momentum=0.1, eps=1e-5)


STACKS: dict[str, type[Stack]] = {"mlp": MLPStack, "resnet": ResNetStack, "cnn1d": CNN1DStack,
                                  "cnn2d": CNN2DStack}
