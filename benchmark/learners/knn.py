"""k-nearest neighbours on standardised features."""
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from ._common import ALL_TASKS, FLAT_VIEWS, pipeline

NAME = "knn"
FAMILY = "classical"
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    cls = KNeighborsRegressor if task == "regression" else KNeighborsClassifier
    return pipeline(cls(n_jobs=threads, **params), scale=True)
