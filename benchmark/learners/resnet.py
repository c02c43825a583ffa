"""The tabular ResNet of Gorishniy et al. (2021) on flat features.

The strongest simple deep baseline in "Revisiting deep learning models for tabular data": residual
blocks with batch norm, on the same flat views as the classical learners.
"""
from ._common import ALL_TASKS, FLAT_VIEWS

NAME = "resnet"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn import make_estimator  # torch is imported only when a deep learner runs

    return make_estimator(NAME, params, task, seed, threads)


def fit_population(models: list, X, y, eval_set) -> list:
    """Fit several of this learner's estimators on the same rows at once (one error each)."""
    from benchmark.nn import fit_population as fit_all

    return fit_all(models, X, y, eval_set)
