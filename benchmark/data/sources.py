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
from .notes import note

SKLEARN_LOADERS = ("breast_cancer", "digits")


@dataclass
class Raw:
    frame: pd.DataFrame
    target: str | None  # the source's default target column (the spec's ``target`` wins)
    sha256: str  # of the file read, or of the arrays made in memory
    images: np.ndarray | None = None
    origin: dict = field(default_factory=dict)  # facts for provenance (file, versions, ids)
    problems: list[Problem] = field(default_factory=list)  # found while reading, reported with the rest
    notes: list[dict] = field(default_factory=list)  # changes the reader made (see notes.note)


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
    scaled = note("info", "pixels", "4-bit pixels (0 to 16) divided by 16 to lie in [0, 1]",
                  divided_by=16)
    return Raw(frame, "target", sha, images=images, origin=origin, notes=[scaled])


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
                       images=images, origin=origin, notes=_split_notes(files.npz_splits(path)))
        problems = _header_problems(spec, path, fmt) if fmt in files.SEPARATORS else []
        frame = files.read_table(path, fmt)
    except files.READ_ERRORS as exc:
        fix = ("copy or download the file again and compare its sha256 with the source's"
               if files.damaged(exc) else "check the file and source.format")
        raise ConfigError([Problem(where(spec, "source.path"), f"must be a readable {fmt} file: "
                                   f"{files.read_error(exc)}", str(path), fix)]) from None
    return Raw(frame, None, files.sha256_file(path), origin=origin, problems=problems)


def _split_notes(parts: dict[str, int]) -> list[dict]:
    """A source's own train/val/test split is merged, never silently: say so."""
    if not parts:
        return []
    sizes = ", ".join(f"{name} {n}" for name, n in parts.items())
    return [note("info", "split", f"the file's own split ({sizes} images) was merged: every "
                       "learner is scored on the study's outer folds instead", **parts)]


def _header_problems(spec: DatasetSpec, path: Path, fmt: str) -> list[Problem]:
    """Repeated column names (pandas would silently rename the second ``x`` to ``x.1``); a
    separator other than the format's raises at once, since every column check would fail."""
    line = files.first_line(path)
    if line is None:
        return []
    sep = files.other_separator(line, fmt)
    if sep is not None:
        raise ConfigError([_separator_problem(spec, line, fmt, sep)])
    repeated = files.repeated_names(files.header(line, fmt))
    if not repeated:
        return []
    text = "; ".join(f"{name!r} at columns {', '.join(map(str, at))}" for name, at in repeated.items())
    return [Problem(where(spec, "source.path"), "column names in the header must be unique (a "
                    "repeated name would be read as a second, renamed column)", text,
                    "rename or remove the repeated columns in the file")]


def _separator_problem(spec: DatasetSpec, line: str, fmt: str, sep: str) -> Problem:
    own, names = files.SEPARATORS[fmt], files.SEPARATOR_NAMES
    fixes = {"\t": "set source.format: tsv (or name the file .tsv)",
             ",": "set source.format: csv (or name the file .csv)"}
    fix = fixes.get(sep, f"save the file with {names[own]} (e.g. pandas: frame.to_csv(path, "
                         "index=False)); files with semicolons often write decimal commas too")
    return Problem(where(spec, "source.format"), f"a {fmt} file separates its columns with "
                   f"{names[own]}, but its first line holds {names[sep]} and no {names[own][:-1]}",
                   line[:80], fix)


def _openml(spec: DatasetSpec) -> Raw:
    cache = openml_cache.cache_dir(spec.source.cache_dir, spec_dir(spec))
    frame, target, origin = openml_cache.fetch(spec.source.id, cache, where(spec, "source.id"))
    return Raw(frame, target, files.sha256_frame(frame), origin={**origin, "cache": str(cache)})


READERS = {"sklearn": _sklearn, "generated": _generated, "file": _file, "openml": _openml}


def read_source(spec: DatasetSpec) -> Raw:
    """The raw data of a spec that passed ``check_spec``; ConfigError when it cannot be read."""
    return READERS[spec.source.kind](spec)
