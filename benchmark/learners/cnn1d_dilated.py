"""Dilated residual 1D CNN on one-hot sequences (Basset/Basenji style), beside the plain CNN.

Basset (Kelley et al. 2016) and Basenji (Kelley et al. 2018) are the standard deep baselines
for regulatory DNA: a motif-detecting stem, a pooling tower and dilated residual blocks that
let distal motifs interact. Optional reverse-complement augmentation for DNA; padding is masked
as in ``cnn1d`` (``benchmark.nn.cnn_blocks``).
"""
from ._common import ALL_TASKS

NAME = "cnn1d_dilated"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = {"sequence": "onehot"}
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn import make_estimator  # torch is imported only when a deep learner runs

    return make_estimator(NAME, params, task, seed, threads)
