"""Preprocessing shared by the classical learners: fit inside each pipeline, on training rows only."""
from __future__ import annotations

from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

CLASSIFICATION = {"binary", "multiclass"}
ALL_TASKS = CLASSIFICATION | {"regression"}
FLAT_VIEWS = {"tabular": "tabular", "sequence": "tabular", "image": "tabular"}


def pipeline(estimator, scale: bool) -> Pipeline:
    """Median imputation (keeping all-missing columns as 0), then optional standardisation."""
    steps = [("impute", SimpleImputer(strategy="median", keep_empty_features=True))]
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps + [("model", estimator)])
