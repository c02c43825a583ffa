"""RealMLP (Holzmüller et al., NeurIPS 2024): an MLP with meta-tuned defaults (robust scaling
and smooth clipping, periodic embeddings, per-parameter learning rates, label smoothing).

With TabM, the strongest MLP of recent tabular benchmarks (TabArena, Erickson et al. 2025). Its
key ingredients run on the shared trainer (``benchmark.nn.realmlp`` says which, and what differs
from the authors' pytabkit), so it early-stops on the inner validation split and refits for the
epoch count found there like every deep learner.
"""
from ._common import ALL_TASKS, FLAT_VIEWS

NAME = "realmlp"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn.realmlp import RealMLPClassifier, RealMLPRegressor
    from benchmark.nn.tabm import make_estimator

    return make_estimator(NAME, params, task, seed, threads, (RealMLPClassifier, RealMLPRegressor))
