"""Read a spec's source into one raw shape: a frame (with the target column) and, for images, pixels.

Every source ends in the same ``Raw`` so validation and view building are written once. Image
sources keep their pixels aside and put only the labels in the frame (column ``target``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError, Problem
from ..specs import DatasetSpec
from . import files, generators, openml_cache

SKLEARN_LOADERS = ("breast_cancer", "digits")


@dataclass
class Raw:
    frame: pd.DataFrame
    target: str | None  # the source's default target column (the spec's ``target`` wins)
    sha256: str  # of the file read, or of the arrays made in memory
    images: np.ndarray | None = None
    origin: dict = field(default_factory=dict)  # facts for provenance (file, versions, ids)


def spec_dir(spec: DatasetSpec) -> Path:
    """Relative paths in a spec are relative to its YAML's folder (the cwd for in-memory specs)."""
    return Path(spec.path).resolve().parent if spec.path else Path.cwd()


def data_file(spec: DatasetSpec) -> Path:
    return spec_dir(spec) / Path(spec.source.path).expanduser()


def where(spec: DatasetSpec, key: str) -> str:
    return f"{spec.path or spec.name}: {key}"


def _sklearn(spec: DatasetSpec) -> Raw:
    import sklearn
    from sklearn import datasets

    origin = {"sklearn": sklearn.__version__}
    if spec.source.loader == "breast_cancer":
        bunch = datasets.load_breast_cancer(as_frame=True)
        frame = bunch.data.copy()
        frame["target"] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
        return Raw(frame, "target", files.sha256_frame(frame), origin=origin)
    bunch = datasets.load_digits()
    images = bunch.images / 16.0  # 4-bit pixels: 16 is white
    frame = pd.DataFrame({"target": bunch.target})
    sha = files.sha256_arrays({"images": images, "target": bunch.target})
    return Raw(frame, "target", sha, images=images, origin=origin)


def _generated(spec: DatasetSpec) -> Raw:
    try:
        frame = generators.GENERATORS[spec.source.generator](**spec.source.params)
    except (TypeError, ValueError) as exc:
        raise ConfigError([Problem(where(spec, "source.params"), f"must be valid parameters of "
                                   f"generator {spec.source.generator}: {exc}",
                                   dict(spec.source.params), "see the generator's docstring in "
                                   "benchmark/data/generators.py")]) from None
    origin = {"generator": spec.source.generator, "generator_version": generators.VERSION,
              "params": dict(spec.source.params)}
    return Raw(frame, "target", files.sha256_frame(frame), origin=origin)


def _file(spec: DatasetSpec) -> Raw:
    path = data_file(spec)
    fmt = spec.source.format or files.infer_format(path)
    origin = {"file": str(path), "format": fmt}
    try:
        if fmt == "npz":
            images, labels = files.read_npz(path)
            return Raw(pd.DataFrame({"target": labels}), "target", files.sha256_file(path),
                       images=images, origin=origin)
        return Raw(files.read_table(path, fmt), None, files.sha256_file(path), origin=origin)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError([Problem(where(spec, "source.path"), f"must be a readable {fmt} file: {exc}",
                                   str(path), "check the file and source.format")]) from None


def _openml(spec: DatasetSpec) -> Raw:
    cache = openml_cache.cache_dir(spec.source.cache_dir, spec_dir(spec))
    frame, target, origin = openml_cache.fetch(spec.source.id, cache, where(spec, "source.id"))
    return Raw(frame, target, files.sha256_frame(frame), origin={**origin, "cache": str(cache)})


READERS = {"sklearn": _sklearn, "generated": _generated, "file": _file, "openml": _openml}


def read_source(spec: DatasetSpec) -> Raw:
    """The raw data of a spec that passed ``check_spec``; ConfigError when it cannot be read."""
    return READERS[spec.source.kind](spec)
