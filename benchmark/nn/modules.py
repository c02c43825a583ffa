"""Network architectures, each built from plain keyword hyperparameters and the input shape.

Kept deliberately small: the benchmark compares tuned learners, so every architectural choice that
matters is a constructor argument the search space can reach, and nothing else is hidden here.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class MLP(nn.Module):
    """Plain feed-forward net: [Linear, (BatchNorm), activation, Dropout] x depth, then a head."""

    def __init__(self, d_in: int, d_out: int, depth: int = 2, width: int = 256,
                 dropout: float = 0.1, batch_norm: bool = False, activation: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = []
        d = d_in
        for _ in range(int(depth)):
            layers.append(nn.Linear(d, int(width)))
            if batch_norm:
                layers.append(nn.BatchNorm1d(int(width)))
            layers += [ACTIVATIONS[activation](), nn.Dropout(dropout)]
            d = int(width)
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _ResBlock(nn.Module):
    def __init__(self, d_main: int, d_hidden: int, hidden_dropout: float, residual_dropout: float):
        super().__init__()
        self.f = nn.Sequential(
            nn.BatchNorm1d(d_main), nn.Linear(d_main, d_hidden), nn.ReLU(),
            nn.Dropout(hidden_dropout), nn.Linear(d_hidden, d_main), nn.Dropout(residual_dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.f(x)


class ResNetMLP(nn.Module):
    """The tabular ResNet of Gorishniy et al. (2021), "Revisiting deep learning models for
    tabular data": Linear in, n_blocks residual blocks, BatchNorm, ReLU, Linear head."""

    def __init__(self, d_in: int, d_out: int, n_blocks: int = 2, d_main: int = 128,
                 d_hidden_factor: float = 2.0, hidden_dropout: float = 0.1,
                 residual_dropout: float = 0.0):
        super().__init__()
        d_main = int(d_main)
        d_hidden = max(1, int(round(d_main * d_hidden_factor)))
        self.first = nn.Linear(d_in, d_main)
        self.blocks = nn.Sequential(*[_ResBlock(d_main, d_hidden, hidden_dropout, residual_dropout)
                                      for _ in range(int(n_blocks))])
        self.head = nn.Sequential(nn.BatchNorm1d(d_main), nn.ReLU(), nn.Linear(d_main, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.first(x)))


class CNN1D(nn.Module):
    """Convolutions along a one-hot sequence (n, L, A) whose all-zero rows are padding.

    Hidden activations are zeroed at padding positions after every layer, pooling is mask-aware,
    and the global max runs over valid positions only, so extra trailing padding never changes
    the output (sequences of different lengths can share one padded array). Unknown letters (N)
    are zero rows too, so they are masked like padding while their neighbours are still read.
    """

    def __init__(self, d_in: int, d_out: int, n_layers: int = 2, channels: int = 64,
                 kernel_size: int = 7, dilation: int = 1, pooling: str = "max",
                 dropout: float = 0.1):
        super().__init__()
        if int(kernel_size) % 2 == 0:
            raise ValueError(f"kernel_size must be odd for exact 'same' padding, got {kernel_size}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        pad = int(dilation) * (int(kernel_size) - 1) // 2
        self.convs = nn.ModuleList()
        c = d_in
        for _ in range(int(n_layers)):
            self.convs.append(nn.Conv1d(c, int(channels), int(kernel_size),
                                        padding=pad, dilation=int(dilation)))
            c = int(channels)
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c, d_out)

    def _pool(self, h: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # ceil_mode keeps a trailing half window, so an odd length never drops its last position
        if self.pooling == "max":  # h >= 0 (ReLU) and zero at padding: a plain max is masked
            return F.max_pool1d(h, 2, ceil_mode=True), F.max_pool1d(m, 2, ceil_mode=True)
        count = F.avg_pool1d(m, 2, ceil_mode=True)
        mean = F.avg_pool1d(h, 2, ceil_mode=True) / count.clamp_min(1e-12)
        return mean * (count > 0), (count > 0).to(h.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (x.abs().sum(-1) > 0).to(x.dtype).unsqueeze(1)  # (n, 1, L): 1 at valid positions
        h = x.transpose(1, 2)  # (n, A, L)
        for i, conv in enumerate(self.convs):
            h = self.dropout(F.relu(conv(h))) * m
            if i < len(self.convs) - 1 and h.shape[-1] > 1:
                h, m = self._pool(h, m)
        valid = m > 0
        pooled = h.masked_fill(~valid, float("-inf")).amax(-1)
        pooled = torch.where(valid.any(-1), pooled, torch.zeros_like(pooled))  # empty sequence
        return self.head(pooled)


class _ConvBlock(nn.Module):
    """Two 3x3 conv-BN-ReLU layers (VGG style), with an identity/1x1 skip when residual."""

    def __init__(self, c_in: int, c_out: int, residual: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = None
        if residual:
            self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + self.skip(x) if self.skip is not None else h)


class CNN2D(nn.Module):
    """Small image CNN (n, C, H, W): n_blocks conv blocks, channels doubling and 2x2 max pooling
    after each block while the map is at least 2x2, global average pooling, dropout, head."""

    def __init__(self, in_shape: tuple[int, int, int], d_out: int, n_blocks: int = 2,
                 channels: int = 16, block: str = "vgg", dropout: float = 0.1):
        super().__init__()
        if block not in ("vgg", "residual"):
            raise ValueError(f"block must be 'vgg' or 'residual', got {block!r}")
        c, h, w = (int(s) for s in in_shape)
        layers: list[nn.Module] = []
        for i in range(int(n_blocks)):
            c_out = int(channels) * 2 ** i
            layers.append(_ConvBlock(c, c_out, block == "residual"))
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = c_out
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # mean over H, W rather than AdaptiveAvgPool2d: its CUDA backward is not deterministic
        return self.head(self.dropout(self.body(x).mean(dim=(2, 3))))


MODULES = {"mlp": MLP, "resnet": ResNetMLP, "cnn1d": CNN1D, "cnn2d": CNN2D}


def build_module(name: str, in_shape: tuple[int, ...], d_out: int, **kwargs) -> nn.Module:
    """Construct architecture ``name`` for inputs of per-example shape ``in_shape``."""
    from . import architectures  # architectures in files of their own; input checks for all

    architectures.check_input(name, tuple(in_shape))
    if name in architectures.ARCHITECTURES:
        return architectures.build(name, tuple(in_shape), d_out, **kwargs)
    if name not in MODULES:
        raise ValueError(f"unknown module {name!r}; expected one of {', '.join(MODULES)}")
    first = tuple(in_shape) if name == "cnn2d" else int(in_shape[-1])
    return MODULES[name](first, d_out, **kwargs)
