"""Training settings shared by every fit, and the one-configuration training loop.

Tensors stay on the device and batches index a device permutation: no DataLoader and no worker
processes, since on the small biological data sets benchmarked here a loader's per-batch Python
overhead would dominate the arithmetic. Estimators train through ``population.py`` (a population
of one when fitted alone); ``train`` is the plain loop for one module, kept as the reference the
population is measured against (``scripts/bench_nn.py``).
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

EVAL_BATCH = 4096


@dataclass
class TrainConfig:
    task: str  # "classification" | "regression"
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 128
    schedule: str = "none"  # none | cosine | plateau
    init: str = "default"  # default | kaiming | xavier
    patience: int = 10
    max_epochs: int = 100
    precision: str = "fp32"  # fp32 | bf16 | auto: bf16 autocast on CUDA only (auto: if supported)


@dataclass
class TrainResult:
    best_epoch: int
    epochs_run: int
    train_loss: list[float]
    val_loss: list[float]


def init_weights(module: nn.Module, scheme: str) -> None:
    """Re-initialise Linear/Conv weights (biases to zero); ``default`` keeps PyTorch's init."""
    if scheme == "default":
        return
    if scheme not in ("kaiming", "xavier"):
        raise ValueError(f"init must be default, kaiming or xavier, got {scheme!r}")
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            if scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def make_optimizer(module: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(module.parameters(), lr=cfg.lr, momentum=0.9, nesterov=True,
                               weight_decay=cfg.weight_decay)
    raise ValueError(f"optimizer must be adamw or sgd, got {cfg.optimizer!r}")


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.schedule == "none":
        return None
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, cfg.max_epochs))
    if cfg.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, factor=0.5, patience=max(1, cfg.patience // 3))
    raise ValueError(f"schedule must be none, cosine or plateau, got {cfg.schedule!r}")


def loss_fn(task: str):
    return F.cross_entropy if task == "classification" else F.mse_loss


def bf16(device: torch.device, precision: str) -> bool:
    """Whether a fit runs in bf16 autocast: asked for (``bf16``, or ``auto`` where the card
    supports it), and on a CUDA device only, so a CPU-only machine never takes this path."""
    if device.type != "cuda" or precision not in ("bf16", "auto"):
        return False
    return precision == "bf16" or torch.cuda.is_bf16_supported()


def autocast(device: torch.device, precision: str):
    if not bf16(device, precision):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@torch.no_grad()
def forward_all(module: nn.Module, X: torch.Tensor, precision: str = "fp32") -> torch.Tensor:
    """Outputs for all rows in eval mode, in large chunks, as float32."""
    module.eval()
    with autocast(X.device, precision):
        outs = [module(X[i:i + EVAL_BATCH]) for i in range(0, len(X), EVAL_BATCH)]
    return torch.cat(outs).float()


def _train_epoch(module, opt, X, y, cfg, gen, loss) -> torch.Tensor:
    """One pass over a fresh permutation; returns the summed loss as a device tensor (no sync)."""
    module.train()
    n = len(X)
    perm = torch.randperm(n, generator=gen, device=X.device)
    bs = max(1, min(int(cfg.batch_size), n))
    total = torch.zeros((), device=X.device)
    for start in range(0, n, bs):
        idx = perm[start:start + bs]
        if len(idx) < 2 <= n:  # BatchNorm cannot train on a single row: drop it this epoch
            continue
        with autocast(X.device, cfg.precision):
            batch_loss = loss(module(X[idx]).float(), y[idx])
        opt.zero_grad(set_to_none=True)
        batch_loss.backward()
        opt.step()
        total += batch_loss.detach() * len(idx)
    return total / n


class _EarlyStopping:
    """Tracks the best validation loss, its epoch and a copy of the weights at that epoch."""

    def __init__(self, patience: int):
        self.patience, self.best, self.best_epoch = patience, math.inf, 0
        self.state, self.stale = None, 0

    def update(self, module: nn.Module, val_loss: float, epoch: int) -> bool:
        """Record this epoch; True when ``patience`` epochs have passed without improvement."""
        if val_loss < self.best:
            self.best, self.best_epoch, self.stale = val_loss, epoch, 0
            self.state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            return False
        self.stale += 1
        return self.stale >= self.patience


def train(module: nn.Module, X: torch.Tensor, y: torch.Tensor, cfg: TrainConfig,
          gen: torch.Generator, X_val: torch.Tensor | None = None,
          y_val: torch.Tensor | None = None) -> TrainResult:
    """Train in place. With a validation set: early stopping on its loss, best weights restored.

    Without one: exactly ``max_epochs`` epochs (the harness's refit with ``max_epochs=best_epoch``).
    Raises FloatingPointError on a non-finite loss so the harness records the trial as failed.
    """
    opt, loss = make_optimizer(module, cfg), loss_fn(cfg.task)
    sched = make_scheduler(opt, cfg)
    stopper = _EarlyStopping(cfg.patience) if X_val is not None and len(X_val) else None
    train_hist, val_hist, epoch = [], [], 0
    for epoch in range(1, int(cfg.max_epochs) + 1):
        monitored = float(_train_epoch(module, opt, X, y, cfg, gen, loss))
        train_hist.append(_finite(monitored, "training", epoch))
        if stopper is not None:
            val = float(loss(forward_all(module, X_val, cfg.precision), y_val))
            monitored = _finite(val, "validation", epoch)
            val_hist.append(monitored)
        step_schedule(sched, monitored)  # plateau follows validation loss, or training loss (refit)
        if stopper is not None and stopper.update(module, monitored, epoch):
            break
    if stopper is None:
        return TrainResult(epoch, epoch, train_hist, val_hist)
    if stopper.state is not None:
        module.load_state_dict(stopper.state)
    return TrainResult(stopper.best_epoch, epoch, train_hist, val_hist)


def _finite(value: float, which: str, epoch: int) -> float:
    if not math.isfinite(value):
        raise FloatingPointError(f"non-finite {which} loss at epoch {epoch}")
    return value


def step_schedule(sched, monitored: float) -> None:
    if sched is None:
        return
    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
        sched.step(monitored)
    else:
        sched.step()
