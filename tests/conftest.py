"""Shared fixtures: a tiny study through real Ray, small user files, a loopback-only Ray."""
from __future__ import annotations

import os

import pytest
from helpers import write_csv_dataset, write_study


@pytest.fixture
def tiny_study(tmp_path) -> Path:
    ds = write_csv_dataset(tmp_path)
    return write_study(tmp_path, [ds.name, "breast_cancer"], ["logreg", "naive_bayes", "knn", "mlp"])


@pytest.fixture(scope="session")
def ray_local():
    """One embedded Ray for the in-process tests, loopback only, stopped at the end."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
