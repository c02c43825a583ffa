"""Multilayer perceptron on flat features (k-mer counts for sequences, pixels for images).

A plain MLP is the baseline every tabular deep-learning study starts from (Kadra et al. 2021;
Gorishniy et al. 2021); flat views let it run on every modality the classical learners see.
"""
from ._common import ALL_TASKS, FLAT_VIEWS

NAME = "mlp"
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
