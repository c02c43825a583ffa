"""RealMLP (Holzmüller, Grinsztajn & Steinwart, NeurIPS 2024, "Better by default"): an MLP
whose preprocessing, embeddings, parametrisation and training tricks were tuned on a meta-train
benchmark so that its defaults are strong.

The authors' package (pytabkit) trains through PyTorch Lightning, about ten seconds of imports
per worker and most of each fit's time on these small data sets, so its key ingredients are
implemented here on the shared trainer instead (``tests/test_learners_contract.py`` compares
the two where pytabkit is installed):

- preprocessing fit on training rows: median imputation and centring, robust scaling by the
  inter-quartile range (half the range where that is 0), smooth clipping x / sqrt(1 + (x/3)^2);
- PBLD numerical embeddings: per feature cos(2 pi w x + b) over ``plr_hidden_1`` frequencies,
  a per-feature linear map to ``plr_hidden_2 - 1`` outputs, and the feature itself appended;
- a learnable diagonal scaling in front of the first layer, NTK-parametrised linear layers,
  parametric activations x + a (f(x) - x) (SELU for classification, Mish for regression);
- the paper's per-parameter learning-rate factors (scaling 6, biases, activations and
  embeddings 0.1), done by reparametrisation: a parameter p = c v trained through v moves c
  times as far under Adam's scale-free steps;
- label smoothing (eps 0.1) for classification, through smoothed training targets.

What differs from the paper, because the shared trainer owns the loop: AdamW with its default
betas (RealMLP uses beta2 0.95), the trainer's cosine schedule instead of "coslog4", a constant
dropout and weight decay instead of their "flat_cos" schedules, early stopping on validation
loss rather than classification error, and data-independent initialisation (RealMLP-TD-S's
normal weights and biases, zero output layer) instead of TD's data-dependent ones.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .estimator import TorchClassifier, TorchRegressor

ACTIVATIONS = {"selu": F.selu, "mish": F.mish, "relu": F.relu, "silu": F.silu}


class _Scaled(nn.Module):
    """A parameter with a learning-rate factor: stored as v = p / factor, read as factor * v."""

    def __init__(self, value: torch.Tensor, factor: float):
        super().__init__()
        self.factor = float(factor)
        self.v = nn.Parameter(value / self.factor)

    def forward(self) -> torch.Tensor:
        return self.factor * self.v


class PBLDEmbeddings(nn.Module):
    """Periodic embeddings with a cosine bias and a linear output, the feature appended."""

    def __init__(self, n: int, hidden_1: int, hidden_2: int, sigma: float, lr_factor: float):
        super().__init__()
        if hidden_2 < 2:
            raise ValueError(f"plr_hidden_2 must be at least 2 (one output is the feature itself), "
                             f"got {hidden_2}")
        self.w1 = _Scaled(sigma * torch.randn(n, 1, hidden_1), lr_factor)
        self.b1 = _Scaled(math.pi * (2 * torch.rand(n, 1, hidden_1) - 1), lr_factor)
        bound = 1 / math.sqrt(hidden_1)
        self.w2 = _Scaled(bound * (2 * torch.rand(n, hidden_1, hidden_2 - 1) - 1), lr_factor)
        self.b2 = _Scaled(bound * (2 * torch.rand(n, 1, hidden_2 - 1) - 1), lr_factor)
        self.d_out = n * hidden_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.transpose(0, 1).unsqueeze(-1)  # (n_features, batch, 1)
        h = torch.cos(2 * math.pi * h.matmul(self.w1()) + self.b1())
        h = h.matmul(self.w2()) + self.b2()  # (n_features, batch, hidden_2 - 1)
        return torch.cat([h.transpose(0, 1).flatten(1), x], dim=1)


class _NTKLinear(nn.Module):
    """x W / sqrt(d_in) + b with standard-normal W and b (zeros for the output layer)."""

    def __init__(self, d_in: int, d_out: int, bias_lr_factor: float, zero: bool = False):
        super().__init__()
        init = torch.zeros if zero else torch.randn
        self.weight = nn.Parameter(init(d_in, d_out))
        self.bias = _Scaled(init(d_out), bias_lr_factor)
        self.norm = 1 / math.sqrt(d_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.matmul(self.weight) * self.norm + self.bias()


class RealMLPNet(nn.Module):
    def __init__(self, d_in: int, d_out: int, n_hidden_layers: int = 3, hidden_width: int = 256,
                 p_drop: float = 0.15, act: str = "auto", parametric_act: bool = True,
                 use_embeddings: bool = True, plr_sigma: float = 0.1, plr_hidden_1: int = 16,
                 plr_hidden_2: int = 4, plr_lr_factor: float = 0.1, scale_lr_factor: float = 6.0,
                 bias_lr_factor: float = 0.1, act_lr_factor: float = 0.1,
                 regression: bool = False):
        super().__init__()
        act = ("mish" if regression else "selu") if act == "auto" else act
        if act not in ACTIVATIONS:
            raise ValueError(f"act must be auto or one of {sorted(ACTIVATIONS)}, got {act!r}")
        self.f = ACTIVATIONS[act]
        d_in = int(d_in)
        self.embed = (PBLDEmbeddings(d_in, int(plr_hidden_1), int(plr_hidden_2), float(plr_sigma),
                                     plr_lr_factor) if use_embeddings else None)
        d = self.embed.d_out if self.embed is not None else d_in
        self.scale = _Scaled(torch.ones(d), scale_lr_factor)
        width = int(hidden_width)
        self.hidden = nn.ModuleList()
        self.alphas = nn.ModuleList()
        for _ in range(int(n_hidden_layers)):
            self.hidden.append(_NTKLinear(d, width, bias_lr_factor))
            self.alphas.append(_Scaled(torch.ones(width), act_lr_factor) if parametric_act
                               else None)
            d = width
        self.dropout = nn.Dropout(float(p_drop))
        self.out = _NTKLinear(d, int(d_out), bias_lr_factor, zero=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) if self.embed is not None else x
        h = h * self.scale()
        for layer, alpha in zip(self.hidden, self.alphas):
            z = layer(h)
            a = self.f(z)
            h = self.dropout(z + (a - z) * alpha() if alpha is not None else a)
        return self.out(h)


def robust_fit(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column medians and robust scale factors from training rows (pytabkit's rule: 1 / IQR,
    1 / (half the range) where the IQR is 0, and 0 for a constant column)."""
    X = np.asarray(X, dtype=np.float64)
    with warnings.catch_warnings():  # an all-missing column warns, then imputes to 0
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(X, axis=0)
    med = np.where(np.isfinite(med), med, 0.0)
    filled = np.where(np.isnan(X), med, X)
    q25, q75 = np.quantile(filled, [0.25, 0.75], axis=0) if len(filled) else (med, med)
    spread = q75 - q25
    half_range = 0.5 * (filled.max(axis=0) - filled.min(axis=0)) if len(filled) else spread
    spread = np.where(spread == 0, half_range, spread)
    return med, np.where(spread > 0, 1.0 / np.where(spread > 0, spread, 1.0), 0.0)


def robust_transform(X: np.ndarray, median: np.ndarray, factor: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    z = (np.where(np.isnan(X), median, X) - median) * factor
    return z / np.sqrt(1 + (z / 3.0) ** 2)


class _RealMLPMixin:
    """RealMLP's preprocessing in place of standardisation; the task tells the net which
    activation is its default; label smoothing on the training targets (classification), its
    ``ls_eps`` passed like an architecture key (``module__ls_eps``) and kept from the net."""

    def _module_kwargs(self) -> dict:
        kwargs = {k: v for k, v in super()._module_kwargs().items() if k != "ls_eps"}
        return {**kwargs, "regression": self._task == "regression"}

    def _fit_features(self, X) -> None:
        if np.ndim(X) != 2:
            raise ValueError(f"RealMLP reads flat features (n_samples, n_features), but got "
                             f"shape {np.shape(X)}")
        self.median_, self.scale_ = robust_fit(X)
        self.mean_ = None

    def _features(self, X) -> torch.Tensor:
        if np.ndim(X) != 2:
            raise ValueError(f"RealMLP reads flat features (n_samples, n_features), but got "
                             f"shape {np.shape(X)}")
        Z = robust_transform(X, self.median_, self.scale_)
        return torch.as_tensor(np.ascontiguousarray(Z, dtype=np.float32), device=self.device_)


class RealMLPClassifier(_RealMLPMixin, TorchClassifier):
    def _fit_targets(self, y) -> torch.Tensor:
        t = super()._fit_targets(y)
        eps = float(getattr(self, "module__ls_eps", 0.1) or 0.0)  # a search-space key
        return t * (1 - eps) + eps / t.shape[1] if eps else t


class RealMLPRegressor(_RealMLPMixin, TorchRegressor):
    pass
