"""k-nearest neighbours on standardised features.

A k above the number of training rows (a small dataset, or an inner split of one) means "every
training row": it is clipped at fit time rather than failing the trial, so kNN is not charged
failed trials for a search range that another dataset needs.
"""
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from ._common import ALL_TASKS, FLAT_VIEWS, pipeline

NAME = "knn"
FAMILY = "classical"
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


class _ClipK:
    def fit(self, X, y):
        self.n_neighbors = min(self.n_neighbors, len(X))
        return super().fit(X, y)


class ClippedKNeighborsClassifier(_ClipK, KNeighborsClassifier):
    pass


class ClippedKNeighborsRegressor(_ClipK, KNeighborsRegressor):
    pass


def build(params: dict, task: str, seed: int, threads: int):
    cls = ClippedKNeighborsRegressor if task == "regression" else ClippedKNeighborsClassifier
    return pipeline(cls(n_jobs=threads, **params), scale=True)
