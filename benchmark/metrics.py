"""Scoring, owned by the harness: learners return predictions, only this module scores them.

Classification learners are scored from class probabilities (n, K); regression from predictions.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn import metrics as skm

Scorer = Callable[[np.ndarray, np.ndarray], float]


def _positive(p: np.ndarray) -> np.ndarray:
    return p[:, 1] if p.ndim == 2 else p


def _auroc(y, p):
    if p.shape[1] == 2:
        return skm.roc_auc_score(y, p[:, 1])
    return skm.roc_auc_score(y, p, multi_class="ovr", average="macro", labels=np.arange(p.shape[1]))


def _auprc(y, p):
    if p.shape[1] == 2:
        return skm.average_precision_score(y, p[:, 1])
    onehot = np.eye(p.shape[1])[y]
    return skm.average_precision_score(onehot, p, average="macro")


def _brier(y, p):
    onehot = np.eye(p.shape[1])[y]
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


CLASSIFICATION: dict[str, tuple[Scorer, bool]] = {
    # name: (scorer(y_true, proba), higher_is_better)
    "auroc": (_auroc, True),
    "auprc": (_auprc, True),
    "balanced_accuracy": (lambda y, p: skm.balanced_accuracy_score(y, p.argmax(1)), True),
    "mcc": (lambda y, p: skm.matthews_corrcoef(y, p.argmax(1)), True),
    "accuracy": (lambda y, p: skm.accuracy_score(y, p.argmax(1)), True),
    "log_loss": (lambda y, p: skm.log_loss(y, np.clip(p, 1e-15, 1), labels=np.arange(p.shape[1])), False),
    "brier": (_brier, False),
}

REGRESSION: dict[str, tuple[Scorer, bool]] = {
    "rmse": (lambda y, p: float(np.sqrt(skm.mean_squared_error(y, p))), False),
    "mae": (lambda y, p: skm.mean_absolute_error(y, p), False),
    "r2": (lambda y, p: skm.r2_score(y, p), True),
}


def panel(task: str) -> dict[str, tuple[Scorer, bool]]:
    return REGRESSION if task == "regression" else CLASSIFICATION


def higher_is_better(metric: str) -> bool:
    return {**CLASSIFICATION, **REGRESSION}[metric][1]


def default_metric(task: str, class_counts: np.ndarray | None = None) -> str:
    """The primary metric when the study says ``auto``.

    Classification uses AUROC while classes are roughly balanced; when the smallest class holds
    less than a third of the largest, AUPRC (binary) or balanced accuracy (multiclass), which
    survive imbalance (Tip 7). Regression uses RMSE.
    """
    if task == "regression":
        return "rmse"
    counts = np.asarray(class_counts) if class_counts is not None else None
    if counts is not None and counts.min() < counts.max() / 3:
        return "auprc" if task == "binary" else "balanced_accuracy"
    return "auroc"


def score(task: str, metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    return float(panel(task)[metric][0](y, pred))


def score_all(task: str, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    out = {}
    for name, (fn, _) in panel(task).items():
        try:
            out[name] = float(fn(y, pred))
        except ValueError:  # e.g. a class absent from a small test fold
            out[name] = float("nan")
    return out
