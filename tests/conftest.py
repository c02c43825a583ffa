"""Shared fixtures: a loopback-only embedded Ray for the in-process tests (helpers.py holds
the small datasets and studies)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_local():
    """One embedded Ray for the in-process tests, started as a run starts it (loopback only,
    token authentication on), stopped at the end. Sessions opened inside it join it."""
    import ray

    from benchmark.ray_session import Session

    with Session(num_cpus=2):
        yield ray
