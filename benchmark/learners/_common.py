"""Preprocessing shared by the classical learners: fit inside each pipeline, on training rows only."""
from __future__ import annotations

import numpy as np
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

CLASSIFICATION = {"binary", "multiclass"}
ALL_TASKS = CLASSIFICATION | {"regression"}
# Trial 0's view; a classical learner's other representations are the harness's to choose.
FLAT_VIEWS = {"tabular": "tabular", "sequence": "tabular", "image": "tabular"}


def as_float64(X):
    """float64 without a copy when it already is: float32 views (the one-hot sequence, pooled
    pixels) would otherwise give float32 probabilities that do not sum to 1 within float64."""
    return np.asarray(X, dtype=np.float64)


def pipeline(estimator, scale: bool) -> Pipeline:
    """float64, median imputation (keeping all-missing columns as 0), optional standardisation."""
    steps = [("float64", FunctionTransformer(as_float64)),
             ("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps + [("model", estimator)])
