"""Gradient-boosted trees (XGBoost, histogram method); missing values handled natively."""
from sklearn.pipeline import Pipeline

from ._common import ALL_TASKS, FLAT_VIEWS

NAME = "xgboost"
FAMILY = "classical"
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    import xgboost as xgb

    cls = xgb.XGBRegressor if task == "regression" else xgb.XGBClassifier
    model = cls(random_state=seed, n_jobs=threads, tree_method="hist", verbosity=0, **params)
    return Pipeline([("model", model)])
