"""OpenML datasets by id, through scikit-learn's ``fetch_openml`` and its on-disk cache.

We reuse scikit-learn's cache rather than inventing one: ``fetch_openml(data_home=<cache>)`` keeps
every API answer and the ARFF file gzipped under ``<cache>/openml/openml.org/`` (the URL path:
``api/v1/json/data/<id>.gz``, ``api/v1/json/data/features/<id>.gz``,
``api/v1/json/data/qualities/<id>.gz``, ``data/v1/download/<file_id>/<name>.arff.gz``) and reads
them back without any network access. The ARFF's md5 from the description is checked on each read.
"""
from __future__ import annotations

import os
from pathlib import Path
from urllib.error import URLError

import pandas as pd

from ..errors import ConfigError, Problem

DEFAULT_CACHE = Path("~/.cache/benchmark/openml")
ENV_CACHE = "BENCHMARK_OPENML_CACHE"


def cache_dir(configured: str | None, base: Path | None = None) -> Path:
    """The spec's ``cache_dir`` (relative to the YAML's folder), else $BENCHMARK_OPENML_CACHE, else
    ``~/.cache/benchmark/openml``."""
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() or base is None else base / path
    return Path(os.environ.get(ENV_CACHE) or DEFAULT_CACHE).expanduser()


def fill_command(data_id: int, cache: Path) -> str:
    return ("python -c \"from sklearn.datasets import fetch_openml; "
            f"fetch_openml(data_id={data_id}, data_home='{cache}')\"")


def fetch(data_id: int, cache: Path, where: str) -> tuple[pd.DataFrame, str | None, dict]:
    """(frame, default target, details) from the cache, downloading into it when online."""
    from sklearn.datasets import fetch_openml
    from sklearn.datasets._openml import OpenMLError

    try:
        bunch = fetch_openml(data_id=data_id, data_home=str(cache), as_frame=True,
                             n_retries=1, delay=0.5)
    except (URLError, OSError, TimeoutError) as exc:
        raise ConfigError([Problem(
            where, f"OpenML dataset {data_id} must be in the cache folder {cache} "
            f"(it is not, and downloading failed: {exc})", data_id,
            f"on a machine with network access run {fill_command(data_id, cache)} and copy "
            f"{cache} here, or point {ENV_CACHE} (or source.cache_dir) at a filled cache")]) from None
    except OpenMLError as exc:
        raise ConfigError([Problem(where, f"must be an existing OpenML dataset id ({exc})",
                                   data_id, "check the id on https://www.openml.org")]) from None
    except ValueError as exc:
        raise ConfigError([Problem(where, f"OpenML dataset {data_id} could not be read from "
                                   f"{cache}: {exc}", data_id,
                                   "delete the cached files and download again")]) from None
    target = bunch.target_names[0] if bunch.target_names else None
    details = {k: bunch.details.get(k) for k in ("name", "version", "file_id", "md5_checksum")}
    return bunch.frame, target, {"openml_id": data_id, "openml_url": bunch.url, **details}
