"""L2-regularised logistic regression (ridge regression for regression tasks)."""
from sklearn.linear_model import LogisticRegression, Ridge

from ._common import ALL_TASKS, FLAT_VIEWS, pipeline

NAME = "logreg"
FAMILY = "classical"
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    if task == "regression":
        return pipeline(Ridge(alpha=1.0 / params["C"]), scale=True)  # only C carries over
    return pipeline(LogisticRegression(random_state=seed, **params), scale=True)
