"""Registry of learners: one small module each, plus ``search_spaces/<name>.yaml``.

A learner module defines:

- ``NAME``: its registry name (equal to the module and YAML name);
- ``FAMILY``: ``"classical"`` or ``"deep"``;
- ``VIEWS``: which dataset view it consumes for each modality it accepts, e.g.
  ``{"tabular": "tabular", "sequence": "tabular", "image": "tabular"}`` for a classical learner
  (k-mer counts for sequences, flat pixels for images) or ``{"sequence": "onehot"}`` for a 1D CNN.
  For a classical learner this is only trial 0's view: on sequences and images the harness tunes
  a ``representation`` parameter over every flat view (``benchmark.spaces``), so it may also
  read the flattened one-hot sequence a CNN sees. The learner itself never sees the parameter;
- ``TASKS``: the tasks it supports (subset of binary, multiclass, regression);
- ``build(params, task, seed, threads) -> estimator``: a scikit-learn estimator (usually a
  Pipeline with its own imputation and scaling, fit on training rows only).

Deep learners also set ``USES_VALIDATION = True``: the harness then calls
``fit(X, y, eval_set=(X_val, y_val))`` with the inner validation split it owns, reads
``best_epoch_`` after fitting, and refits on the whole outer training part with
``max_epochs=best_epoch`` and no validation set. Learners never split, score or seed themselves.
"""
from __future__ import annotations

import importlib
from types import ModuleType

CLASSICAL = ["logreg", "random_forest", "knn", "naive_bayes", "svm", "xgboost"]
DEEP = ["mlp", "resnet", "cnn1d", "cnn2d"]
ALL = CLASSICAL + DEEP


def get(name: str) -> ModuleType:
    if name not in ALL:
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{name}")


def accepts(module: ModuleType, modality: str, task: str) -> bool:
    return modality in module.VIEWS and task in module.TASKS
