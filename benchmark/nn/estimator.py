"""scikit-learn estimators around the modules and the trainer, so the harness treats deep and
classical learners alike (clone, fit, predict_proba), with preprocessing fit on training rows only.

Parameter naming (skorch style): ``module`` names the architecture and its hyperparameters are
passed flat with a ``module__`` prefix (``module__width=256``); training and runtime settings use
plain names (``lr``, ``batch_size``, ``max_epochs``, ``random_state``, ``device`` ...).
"""
from __future__ import annotations

import contextlib
import os
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from .population import Data, fit_population
from .trainer import TrainConfig, forward_all

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # must precede the first cuBLAS call
PREFIX = "module__"


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@contextlib.contextmanager
def num_threads(threads: int | None):
    """torch's intra-op thread count for a block (process-wide), restored afterwards."""
    saved = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextlib.contextmanager
def runtime(threads: int | None, deterministic: bool, device: torch.device, seed: int):
    """Thread count, determinism flags and seeded RNGs for one fit; all restored afterwards.

    Deterministic algorithms, but uninitialised memory left unfilled: torch would otherwise
    write NaN into every new tensor (a debugging aid; no kernel here reads memory it did not
    write, so the numbers are the same), which cost a tenth of a 2D CNN's training on a CPU."""
    flags = torch.utils.deterministic
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
             flags.fill_uninitialized_memory)
    torch.use_deterministic_algorithms(bool(deterministic))
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = bool(deterministic)
    flags.fill_uninitialized_memory = False
    cuda = [device.index or 0] if device.type == "cuda" else []
    try:
        with num_threads(threads), torch.random.fork_rng(devices=cuda):
            torch.manual_seed(int(seed))
            yield
    finally:
        torch.use_deterministic_algorithms(saved[0])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[1:3]
        flags.fill_uninitialized_memory = saved[3]


class _TorchEstimator(BaseEstimator):
    """Shared fit/predict machinery; subclasses say how targets become tensors."""

    _task = ""

    def __init__(self, module="mlp", optimizer="adamw", lr=1e-3, weight_decay=1e-5,
                 batch_size=128, schedule="none", init="default", patience=10, max_epochs=100,
                 random_state=0, device="auto", threads=None, precision="auto",
                 deterministic=True, **module_params):
        self.module, self.optimizer, self.lr = module, optimizer, lr
        self.weight_decay, self.batch_size, self.schedule = weight_decay, batch_size, schedule
        self.init, self.patience, self.max_epochs = init, patience, max_epochs
        self.random_state, self.device, self.threads = random_state, device, threads
        self.precision, self.deterministic = precision, deterministic
        for key, value in module_params.items():
            if not key.startswith(PREFIX):
                raise TypeError(f"unexpected parameter {key!r}: architecture parameters take "
                                f"the prefix {PREFIX!r}, e.g. {PREFIX}{key}")
            setattr(self, key, value)

    # ------------------------------------------------------------ sklearn parameter protocol
    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update({k: v for k, v in vars(self).items() if k.startswith(PREFIX)})
        return params

    def set_params(self, **params):
        valid = set(self.get_params(deep=False))
        for key, value in params.items():
            if key not in valid and not key.startswith(PREFIX):
                raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}")
            setattr(self, key, value)
        return self

    def _module_kwargs(self) -> dict:
        return {k[len(PREFIX):]: v for k, v in vars(self).items() if k.startswith(PREFIX)}

    def _config(self) -> TrainConfig:
        return TrainConfig(task=self._task, optimizer=self.optimizer, lr=float(self.lr),
                           weight_decay=float(self.weight_decay), batch_size=int(self.batch_size),
                           schedule=self.schedule, init=self.init, patience=int(self.patience),
                           max_epochs=int(self.max_epochs), precision=self.precision)

    # ------------------------------------------------------------ features
    def _fit_features(self, X: np.ndarray) -> None:
        """Medians for imputation and mean/std for scaling, from training rows (2-D input only)."""
        if np.ndim(X) != 2:  # one-hot sequences and images are used as they are
            self.median_ = self.mean_ = self.scale_ = None
            return
        X = np.asarray(X, dtype=np.float64)
        with warnings.catch_warnings():  # an all-missing column warns, then imputes to 0
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(X, axis=0)
        self.median_ = np.where(np.isfinite(med), med, 0.0)
        filled = np.where(np.isnan(X), self.median_, X)
        self.mean_ = filled.mean(axis=0)
        std = filled.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)

    def _features(self, X) -> torch.Tensor:
        X = np.asarray(X)
        if X.ndim == 2:
            X = (np.where(np.isnan(X), self.median_, X) - self.mean_) / self.scale_
        return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=self.device_)

    # ------------------------------------------------------------ fit / predict
    def fit(self, X, y, eval_set=None):
        """Train; with ``eval_set=(X_val, y_val)`` early-stop on it and set ``best_epoch_``.

        A population of one (``population.fit_population`` trains several at once)."""
        error = fit_population([self], X, y, eval_set)[0]
        if error is not None:
            raise error
        return self

    def _device(self) -> torch.device:
        self.device_ = resolve_device(self.device)
        return self.device_

    def _prepare(self, X, y, eval_set) -> Data:
        """Preprocessing fitted on the training rows, and the tensors a population shares."""
        self._fit_features(X)
        Xt, yt = self._features(X), self._fit_targets(y)
        Xv = yv = None
        if eval_set is not None and len(eval_set[0]):
            Xv, yv = self._features(eval_set[0]), self._targets(eval_set[1])
        return Data(Xt, yt, Xv, yv, self._task, self._n_outputs())

    def _adopt(self, other: "_TorchEstimator") -> None:
        """Take another member's preprocessing (fitted on the same rows): its fitted
        attributes, named with a trailing underscore as scikit-learn's are."""
        for name, value in vars(other).items():
            if name.endswith("_") and not name.startswith("_"):
                setattr(self, name, value)

    def _finish(self, member, data: Data) -> None:
        """What training left, as attributes (also for a member that failed)."""
        self.module_ = member.module
        self.best_epoch_, self.n_epochs_ = member.best_epoch, member.epochs
        self.history_ = {"train_loss": member.train_hist, "val_loss": member.val_hist}
        self.n_features_in_ = int(np.prod(data.X.shape[1:]))
        self.fit_seconds_, self.population_ = member.seconds, member.group

    def _outputs(self, X) -> torch.Tensor:
        with num_threads(self.threads):
            return forward_all(self.module_, self._features(X), self.precision)


class TorchClassifier(ClassifierMixin, _TorchEstimator):
    """Cross-entropy classifier; ``predict_proba`` columns follow ``classes_``."""

    _task = "classification"

    def _fit_targets(self, y) -> torch.Tensor:
        self.classes_ = np.unique(np.asarray(y))
        return self._targets(y)

    def _targets(self, y) -> torch.Tensor:
        y, k = np.asarray(y), len(self.classes_)
        idx = np.searchsorted(self.classes_, y)
        if np.any(self.classes_[np.minimum(idx, k - 1)] != y):
            raise ValueError("eval_set holds labels absent from the training labels")
        # one-hot (probability) targets: avoids nll_loss, which has no deterministic CUDA kernel
        return torch.as_tensor(np.eye(k, dtype=np.float32)[idx], device=self.device_)

    def _n_outputs(self) -> int:
        return len(self.classes_)

    def predict_proba(self, X) -> np.ndarray:
        # softmax in float64 so rows sum to 1 within float64 tolerance (log-loss checks this)
        return torch.softmax(self._outputs(X).double(), dim=1).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class TorchRegressor(RegressorMixin, _TorchEstimator):
    """Mean-squared-error regressor; targets standardized with training mean/std."""

    _task = "regression"

    def _fit_targets(self, y) -> torch.Tensor:
        y = np.asarray(y, dtype=np.float64)
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        return self._targets(y)

    def _targets(self, y) -> torch.Tensor:
        z = (np.asarray(y, dtype=np.float64) - self.y_mean_) / self.y_scale_
        return torch.as_tensor(z.reshape(-1, 1), dtype=torch.float32, device=self.device_)

    def _n_outputs(self) -> int:
        return 1

    def predict(self, X) -> np.ndarray:
        z = self._outputs(X)[:, 0].cpu().numpy().astype(np.float64)
        return z * self.y_scale_ + self.y_mean_


TRAIN_KEYS = {"optimizer", "lr", "weight_decay", "batch_size", "schedule", "init", "patience",
              "max_epochs", "device", "precision", "deterministic"}


def make_estimator(module: str, params: dict, task: str, seed: int, threads: int | None):
    """A learner's configuration (plain names, as in its search space) as an estimator.

    Training keys keep their names; every other key is an architecture parameter and gains the
    ``module__`` prefix, so a search space never has to spell the prefix.
    """
    kwargs = {k if k in TRAIN_KEYS or k.startswith(PREFIX) else PREFIX + k: v
              for k, v in params.items()}
    cls = TorchRegressor if task == "regression" else TorchClassifier
    return cls(module=module, random_state=int(seed), threads=threads, **kwargs)
