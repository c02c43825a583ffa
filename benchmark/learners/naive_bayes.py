"""Gaussian naive Bayes."""
from sklearn.naive_bayes import GaussianNB

from ._common import CLASSIFICATION, FLAT_VIEWS, pipeline

NAME = "naive_bayes"
FAMILY = "classical"
VIEWS = FLAT_VIEWS
TASKS = CLASSIFICATION


def build(params: dict, task: str, seed: int, threads: int):
    return pipeline(GaussianNB(**params), scale=False)
