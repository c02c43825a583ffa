"""Small 2D convolutional net on images (n, C, H, W).

Sees spatial structure, which flat pixels discard; sized for small images (8x8 digits up to
28x28) on CPU budgets.
"""
from ._common import ALL_TASKS

NAME = "cnn2d"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = {"image": "image"}
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn import make_estimator  # torch is imported only when a deep learner runs

    return make_estimator(NAME, params, task, seed, threads)


def fit_population(models: list, X, y, eval_set) -> list:
    """Fit several of this learner's estimators on the same rows at once (one error each)."""
    from benchmark.nn import fit_population as fit_all

    return fit_all(models, X, y, eval_set)
