"""Shared fixtures: a tiny study through real Ray, small user files, a loopback-only Ray."""
from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_csv_dataset, write_study


@pytest.fixture
def tiny_study(tmp_path) -> Path:
    ds = write_csv_dataset(tmp_path)
    return write_study(tmp_path, [ds.name, "breast_cancer"], ["logreg", "naive_bayes", "knn", "mlp"])


@pytest.fixture(scope="session")
def ray_local():
    """One embedded Ray for the in-process tests, started as a run starts it (loopback only,
    token authentication on), stopped at the end. Sessions opened inside it join it."""
    import ray

    from benchmark.execution import Session

    with Session(num_cpus=2):
        yield ray
