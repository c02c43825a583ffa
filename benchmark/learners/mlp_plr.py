"""MLP with periodic numerical embeddings (MLP-PLR; Gorishniy et al., NeurIPS 2022).

Each feature is embedded through learned frequencies before a plain MLP, which the paper found
lifts a plain MLP to the level of attention-based tabular nets; the embeddings are the authors'
``rtdl_num_embeddings``. One embedding per feature: on thousands of features (k-mer counts,
flat pixels) it is slow and wide, so its space keeps the embedding small.
"""
from ._common import ALL_TASKS, FLAT_VIEWS

NAME = "mlp_plr"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn import make_estimator  # torch is imported only when a deep learner runs

    return make_estimator(NAME, params, task, seed, threads)
