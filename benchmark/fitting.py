"""Fitting and scoring one configuration: the single code path of trials, outer refits,
shuffled-label controls and the checks' refits.

A configuration reads one view of the data (``view_name``/``features``; a ``representation``
choice reads a flat view), ``fit`` builds the learner with it, ``predict`` returns class
probabilities (one column per class code) or regression predictions, ``score`` and
``score_all`` turn them into metrics. Nothing here knows Optuna, Ray or the store.
"""
from __future__ import annotations

import numpy as np

from . import metrics
from .data import views
from .data.dataset import Dataset
from .spaces import REPRESENTATION


def view_name(module, config: dict, data: Dataset) -> str:
    """The view a configuration reads: its ``representation``'s view, else the learner's own."""
    rep = config.get(REPRESENTATION)
    if rep is None:
        return module.VIEWS[data.modality]
    reps = views.representations(data.modality, data.views)
    if rep not in reps:
        raise ValueError(f"representation {rep!r} is not offered for {data.modality} data "
                         f"({data.name}): choose one of {sorted(reps)}")
    return reps[rep]


def features(module, config: dict, data: Dataset) -> np.ndarray:
    """The array a configuration reads, one row per example; a representation is read flat
    (a reshape: the one-hot sequence is not copied)."""
    X = data.views[view_name(module, config, data)]
    return X.reshape(len(X), -1) if REPRESENTATION in config else X


def build(module, config: dict, task: str, seed: int, threads: int):
    """The learner's estimator for ``config``; the learner never sees ``representation``."""
    return module.build({k: v for k, v in config.items() if k != REPRESENTATION},
                        task, seed, threads)


def fit(module, config: dict, data: Dataset, train: np.ndarray, seed: int, threads: int,
        validation: np.ndarray | None = None):
    """Build the learner's estimator with ``config`` and fit it on ``train`` rows of the view
    the configuration reads (``features``); ``validation`` rows go to a learner that stops
    early on them (``USES_VALIDATION``)."""
    X = features(module, config, data)
    model = build(module, config, data.task, seed, threads)
    if getattr(module, "USES_VALIDATION", False) and validation is not None:
        model.fit(X[train], data.y[train], eval_set=(X[validation], data.y[validation]))
    else:
        model.fit(X[train], data.y[train])
    return model


def predict(model, X: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """Class probabilities with one column per class code, or regression predictions."""
    if task == "regression":
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    if proba.shape[1] == n_classes:
        return proba
    full = np.zeros((len(X), n_classes))  # a class was absent from the training rows
    full[:, np.asarray(model.classes_, dtype=int)] = proba
    return full


def score(data: Dataset, metric: str, rows: np.ndarray, pred: np.ndarray) -> float:
    """One metric of predictions for ``rows`` against their true labels."""
    return metrics.score(data.task, metric, data.y[rows], pred)


def score_all(data: Dataset, rows: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Every metric of the task's panel for predictions of ``rows``."""
    return metrics.score_all(data.task, data.y[rows], pred)
