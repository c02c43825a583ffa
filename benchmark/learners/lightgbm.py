"""LightGBM: leaf-wise gradient-boosted trees, missing values handled natively.

A strong classical side needs more than one booster: LightGBM and CatBoost lead or tie XGBoost
across recent tabular benchmarks (Grinsztajn et al. 2022; McElfresh et al. 2023; TabArena,
Erickson et al. 2025). Boosting rounds are early-stopped on the harness's inner validation split
and the refit grows the round count found there (``_boosting``), as the deep learners do with
epochs. Deterministic on CPU (``deterministic``, row-wise histograms, fixed seed); on a GPU only
with a CUDA build of LightGBM (the PyPI wheel has none), probed once per process.
"""
from __future__ import annotations

import functools

from ._boosting import gpu_visible, harness_params, wrap
from ._common import ALL_TASKS, FLAT_VIEWS

NAME = "lightgbm"
FAMILY = "classical"
USES_VALIDATION = True
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


@functools.lru_cache(maxsize=1)
def cuda_available() -> bool:
    """Whether this LightGBM build trains on CUDA here: a two-row fit, never an error."""
    if not gpu_visible():
        return False
    import numpy as np
    import lightgbm

    try:
        lightgbm.LGBMRegressor(n_estimators=1, device_type="cuda", verbose=-1).fit(
            np.arange(4.0).reshape(-1, 1), np.arange(4.0))
        return True
    except Exception:  # a CPU-only build, no driver, or no free device
        return False


def build(params: dict, task: str, seed: int, threads: int):
    import lightgbm

    params, rounds, device = harness_params(params)
    gpu = device == "gpu" or (device == "auto" and cuda_available())
    cls = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    model = cls(random_state=seed, n_jobs=threads, verbose=-1, deterministic=True,
                force_row_wise=not gpu, device_type="cuda" if gpu else "cpu", **params)
    return wrap(model, task, rounds)
