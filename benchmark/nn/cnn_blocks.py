"""Deeper convolutional nets: a dilated residual 1D CNN for one-hot sequences (Basset/Basenji
style) and a small ResNet for images.

DilatedResNet1D (after Kelley et al. 2016, Basset, and Kelley et al. 2018, Basenji): a wide
motif-detecting stem convolution, an optional pooling tower (Basenji's shortens 131 kb inputs;
on sequences of a few hundred letters pooling first cost accuracy, so none by default), then
residual blocks whose dilation doubles, so the receptive field grows exponentially with depth
and distal motifs interact. Padding is
handled as in ``modules.CNN1D``: all-zero rows are padding (or unknown letters), activations are
zeroed there after every layer, pooling keeps a mask, and the global max runs over valid
positions only, so trailing padding never changes a prediction. Normalisation is a LayerNorm
over channels at each position (Basenji uses batch norm, whose statistics would mix padding
into every position). Reverse-complement augmentation (DNA only): in training each sequence is
replaced by its reverse complement with probability 1/2; at prediction the outputs on both
strands are averaged, as Basset and DeepSEA do. The reverse complement reverses the valid part
only, so padding stays at the end.

ResNet2D (He et al. 2016, the CIFAR variant scaled down): a 3x3 stem, ``n_stages`` stages of
``blocks_per_stage`` basic blocks (two 3x3 conv-BN-ReLU with an identity or 1x1 skip), stride 2
between stages while the map is at least 2x2, channels doubling, global average pooling.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

# one-hot order A, C, G, T (benchmark.data.views.ALPHABETS["dna"]): the complement reverses it
DNA_LETTERS = 4


def reverse_complement(x: torch.Tensor) -> torch.Tensor:
    """(n, L, 4) one-hot DNA -> the reverse complement of each sequence's valid part, padding
    left at the end (a sequence's length runs to its last non-zero row)."""
    n, L, _ = x.shape
    valid = x.abs().sum(-1) > 0
    pos = torch.arange(L, device=x.device).expand(n, L)
    length = torch.where(valid, pos + 1, torch.zeros_like(pos)).amax(dim=1, keepdim=True)
    src = torch.where(pos < length, length - 1 - pos, pos)
    return torch.gather(x, 1, src.unsqueeze(-1).expand(-1, -1, x.shape[2])).flip(-1)


class _ChannelNorm(nn.Module):
    """LayerNorm over channels at each position of (n, C, L): no statistic crosses positions."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.norm(h.transpose(1, 2)).transpose(1, 2)


class _DilatedBlock(nn.Module):
    """norm, GELU, 3-wide dilated conv, norm, GELU, 1x1 conv, dropout; added to its input."""

    def __init__(self, c: int, dilation: int, dropout: float):
        super().__init__()
        self.norm1, self.norm2 = _ChannelNorm(c), _ChannelNorm(c)
        self.conv1 = nn.Conv1d(c, c, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(c, c, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        # masked before each convolution too: a normalised zero row is not zero
        z = self.conv1(F.gelu(self.norm1(h)) * m) * m
        z = self.dropout(self.conv2(F.gelu(self.norm2(z)) * m)) * m
        return h + z


class DilatedResNet1D(nn.Module):
    def __init__(self, d_in: int, d_out: int, channels: int = 32, stem_kernel: int = 15,
                 n_pool: int = 0, n_dilated: int = 3, dilation_rate: float = 2.0,
                 dropout: float = 0.1, rc_augment: bool = False):
        super().__init__()
        if int(stem_kernel) % 2 == 0:
            raise ValueError(f"stem_kernel must be odd for exact 'same' padding, got {stem_kernel}")
        if rc_augment and d_in != DNA_LETTERS:
            raise ValueError(f"rc_augment needs one-hot DNA (4 letters), got an alphabet of "
                             f"{d_in}: set rc_augment: false for protein sequences")
        c = int(channels)
        self.rc_augment = bool(rc_augment)
        self.stem = nn.Conv1d(d_in, c, int(stem_kernel), padding=int(stem_kernel) // 2)
        self.tower = nn.ModuleList(nn.Conv1d(c, c, 5, padding=2) for _ in range(int(n_pool)))
        dilations, d = [], 1.0
        for _ in range(int(n_dilated)):
            dilations.append(max(1, int(round(d))))
            d *= float(dilation_rate)
        self.blocks = nn.ModuleList(_DilatedBlock(c, r, float(dropout)) for r in dilations)
        self.head = nn.Linear(c, d_out)

    def _strand(self, x: torch.Tensor) -> torch.Tensor:
        m = (x.abs().sum(-1) > 0).to(x.dtype).unsqueeze(1)  # (n, 1, L): 1 at valid positions
        h = F.relu(self.stem(x.transpose(1, 2))) * m
        for conv in self.tower:  # pool, then convolve, halving the length each time
            if h.shape[-1] > 1:
                h, m = F.max_pool1d(h, 2, ceil_mode=True), F.max_pool1d(m, 2, ceil_mode=True)
            h = F.relu(conv(h)) * m  # h >= 0 and zero at padding: the max pool is masked
        for block in self.blocks:
            h = block(h, m)
        h = F.relu(h) * m  # no final norm: a per-position norm hides how strongly a motif fired
        valid = m > 0
        pooled = h.masked_fill(~valid, float("-inf")).amax(-1)
        pooled = torch.where(valid.any(-1), pooled, torch.zeros_like(pooled))  # empty sequence
        return self.head(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.rc_augment:
            return self._strand(x)
        if self.training:  # each sequence read on a random strand
            flip = torch.rand(len(x), device=x.device) < 0.5
            return self._strand(torch.where(flip[:, None, None], reverse_complement(x), x))
        return 0.5 * (self._strand(x) + self._strand(reverse_complement(x)))


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(h + self.skip(x))


class ResNet2D(nn.Module):
    def __init__(self, in_shape: tuple[int, int, int], d_out: int, channels: int = 16,
                 n_stages: int = 3, blocks_per_stage: int = 2, dropout: float = 0.0):
        super().__init__()
        c_in, h, w = (int(s) for s in in_shape)
        c = int(channels)
        self.stem = nn.Sequential(nn.Conv2d(c_in, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU())
        blocks: list[nn.Module] = []
        for stage in range(int(n_stages)):
            c_out = int(channels) * 2 ** stage
            stride = 2 if stage > 0 and min(h, w) >= 2 else 1
            if stride == 2:
                h, w = (h + 1) // 2, (w + 1) // 2
            for b in range(int(blocks_per_stage)):
                blocks.append(_BasicBlock(c, c_out, stride if b == 0 else 1))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(float(dropout))
        self.head = nn.Linear(c, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # mean over H, W rather than AdaptiveAvgPool2d: its CUDA backward is not deterministic
        return self.head(self.dropout(self.blocks(self.stem(x)).mean(dim=(2, 3))))
