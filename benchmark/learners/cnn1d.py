"""1D convolutional net on one-hot sequences (zero rows as padding).

Sees base order, which k-mer counts discard; its masked pooling keeps variable-length sequences
in one padded array without padding leaking into predictions.
"""
from ._common import ALL_TASKS

NAME = "cnn1d"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = {"sequence": "onehot"}
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn import make_estimator  # torch is imported only when a deep learner runs

    return make_estimator(NAME, params, task, seed, threads)


def fit_population(models: list, X, y, eval_set) -> list:
    """Fit several of this learner's estimators on the same rows at once (one error each)."""
    from benchmark.nn import fit_population as fit_all

    return fit_all(models, X, y, eval_set)
