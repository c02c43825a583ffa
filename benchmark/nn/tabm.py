"""TabM (Gorishniy, Kotelnikov & Babenko, ICLR 2025): one MLP that holds k weight-sharing
members (BatchEnsemble), trained together, whose mean prediction is the model's.

The network is the authors' ``tabm`` package; what is ours is how it meets the shared trainer.
The paper trains each member on its own loss (the mean of the k members' losses, not the loss
of their mean) and selects the epoch by the ensemble's validation score. Here the module's
training-mode output keeps the members apart, ``(batch, d_out, k)``, and the estimator repeats
each training target k times, so the trainer's cross-entropy or squared error is exactly the
members' mean loss; in evaluation mode the module returns the ensemble (log mean probability,
or mean prediction) as ``(batch, d_out)``, so early stopping and predictions see the ensemble.
Batches are shared between members (the package's default mode).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .estimator import PREFIX, TRAIN_KEYS, TorchClassifier, TorchRegressor


class TabMNet(nn.Module):
    """``tabm.TabM`` on flat numeric features; ``regression`` says how members are averaged."""

    def __init__(self, d_in: int, d_out: int, k: int = 32, n_blocks: int = 3,
                 d_block: int = 512, dropout: float = 0.1, arch_type: str = "tabm",
                 regression: bool = False):
        super().__init__()
        import tabm

        self.k, self.regression = int(k), bool(regression)
        self.net = tabm.TabM.make(n_num_features=int(d_in), d_out=int(d_out), k=self.k,
                                  n_blocks=int(n_blocks), d_block=int(d_block),
                                  dropout=float(dropout), arch_type=arch_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)  # (batch, k, d_out)
        if self.training:
            return out.transpose(1, 2)  # members kept apart for their own losses
        if self.regression:
            return out.mean(dim=1)
        # log of the mean probability: softmax of it is the ensemble's probability
        return torch.logsumexp(torch.log_softmax(out.float(), dim=-1), dim=1) - math.log(self.k)


class _Members:
    """Training targets repeated for each of the k members; validation targets as they are."""

    def _module_kwargs(self) -> dict:
        return {**super()._module_kwargs(), "regression": self._task == "regression"}

    def _fit_targets(self, y) -> torch.Tensor:
        t = super()._fit_targets(y)
        k = int(self._module_kwargs().get("k", 32))
        return t.unsqueeze(-1).expand(*t.shape, k)


class TabMClassifier(_Members, TorchClassifier):
    pass


class TabMRegressor(_Members, TorchRegressor):
    pass


def make_estimator(module: str, params: dict, task: str, seed: int, threads: int | None,
                   classes: tuple[type, type]):
    """``estimator.make_estimator`` for estimator classes of one's own: training keys keep
    their names, every other key is an architecture parameter and gains the module prefix."""
    kwargs = {k if k in TRAIN_KEYS or k.startswith(PREFIX) else PREFIX + k: v
              for k, v in params.items()}
    cls = classes[1] if task == "regression" else classes[0]
    return cls(module=module, random_state=int(seed), threads=threads, **kwargs)
