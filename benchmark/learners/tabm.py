"""TabM (Gorishniy et al., ICLR 2025): a parameter-efficient ensemble of k MLPs in one network.

The strongest MLP-type model of recent tabular benchmarks (TabM paper; TabArena, Erickson et al.
2025), so the deep side fields it wherever the classical side reads flat features. The network
is the authors' ``tabm`` package; training is the shared trainer's (early stopping on the inner
validation split, the refit for the epoch count found there), with each member trained on its
own loss as in the paper (``benchmark.nn.tabm``).
"""
from ._common import ALL_TASKS, FLAT_VIEWS

NAME = "tabm"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn.tabm import TabMClassifier, TabMRegressor, make_estimator

    return make_estimator(NAME, params, task, seed, threads, (TabMClassifier, TabMRegressor))
