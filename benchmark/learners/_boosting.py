"""Early stopping for boosted trees on the harness's terms, shared by LightGBM and CatBoost.

The deep learners' contract, kept for boosting rounds: with ``eval_set`` (the inner validation
split the harness owns) the model stops early on it and ``best_epoch_`` is the best round count;
without it (the refit on the outer training part) it boosts exactly ``max_epochs`` rounds when
the harness passes the count found there, else the configured cap. The library sees its own
scikit-learn estimator; this wrapper only chooses how many rounds it grows.
"""
from __future__ import annotations

import os

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone

from . import check_view


def gpu_visible() -> bool:
    """An NVIDIA device this process may use (a Ray task granted no GPU sees none)."""
    return (os.environ.get("CUDA_VISIBLE_DEVICES") not in ("", "-1")
            and os.path.exists("/dev/nvidia0"))


class _EarlyStopped(BaseEstimator):
    """``estimator`` is the library's unfitted scikit-learn model, its round cap included."""

    def __init__(self, estimator=None, max_epochs=None, patience=50):
        self.estimator, self.max_epochs, self.patience = estimator, max_epochs, patience

    def _library(self) -> str:
        return type(self.estimator).__module__.split(".")[0]

    def _rounds_param(self) -> str:
        return "iterations" if self._library() == "catboost" else "n_estimators"

    def _fit_early(self, model, X, y, X_val, y_val) -> int:
        """Fit with early stopping on the validation rows; the best round count (1-based)."""
        if self._library() == "catboost":
            model.fit(X, y, eval_set=(X_val, y_val), early_stopping_rounds=int(self.patience),
                      use_best_model=True)
            return model.get_best_iteration() + 1
        if self._library() == "lightgbm":
            import lightgbm

            model.fit(X, y, eval_X=(X_val,), eval_y=(y_val,),
                      callbacks=[lightgbm.early_stopping(int(self.patience), verbose=False)])
            return model.best_iteration_ or model.get_params()["n_estimators"]
        raise TypeError(f"no early stopping known for {type(self.estimator).__name__}")

    def fit(self, X, y, eval_set=None):
        X = check_view(X, "tabular", type(self.estimator).__name__)
        model = clone(self.estimator)
        if eval_set is not None:
            X_val = check_view(eval_set[0], "tabular", type(self.estimator).__name__)
            self.best_epoch_ = max(1, int(self._fit_early(model, X, y, X_val, eval_set[1])))
        else:
            if self.max_epochs:
                model.set_params(**{self._rounds_param(): int(self.max_epochs)})
            model.fit(X, y)
            self.best_epoch_ = int(model.get_params()[self._rounds_param()])
        self.model_ = model
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return self.model_.predict(check_view(X, "tabular", type(self.estimator).__name__))


class EarlyStoppedClassifier(ClassifierMixin, _EarlyStopped):
    @property
    def classes_(self):
        return self.model_.classes_

    def predict_proba(self, X):
        X = check_view(X, "tabular", type(self.estimator).__name__)
        return np.asarray(self.model_.predict_proba(X), dtype=np.float64)

    def predict(self, X):
        return np.asarray(super().predict(X)).reshape(-1)


class EarlyStoppedRegressor(RegressorMixin, _EarlyStopped):
    def predict(self, X):
        return np.asarray(super().predict(X), dtype=np.float64).reshape(-1)


def harness_params(params: dict) -> tuple[dict, dict, str]:
    """(the library's parameters, the wrapper's rounds settings, the device asked for): the
    harness's ``early_stopping_rounds``, ``max_epochs`` and ``device`` never reach the library."""
    params = dict(params)
    rounds = {"patience": params.pop("early_stopping_rounds", 50),
              "max_epochs": params.pop("max_epochs", None)}
    return params, rounds, params.pop("device", "auto")


def wrap(model, task: str, rounds: dict):
    """The library's model inside the early-stopping wrapper of the task's kind."""
    wrapper = EarlyStoppedRegressor if task == "regression" else EarlyStoppedClassifier
    return wrapper(model, **rounds)
