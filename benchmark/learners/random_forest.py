"""Random forest."""
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from ._common import ALL_TASKS, FLAT_VIEWS, pipeline

NAME = "random_forest"
FAMILY = "classical"
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    cls = RandomForestRegressor if task == "regression" else RandomForestClassifier
    return pipeline(cls(random_state=seed, n_jobs=threads, **params), scale=False)
