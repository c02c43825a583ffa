"""A dataset's YAML file (its spec): find and parse it, then check it statically (no data read).

Static checks run before any file is opened so that a typo costs milliseconds, not a download.
"""
from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

from ..errors import ConfigError, Problem
from ..paths import DATASETS
from ..specs import DatasetSpec, parse, read_yaml
from . import files, generators, views
from .sources import SKLEARN_LOADERS, data_file, where

USED_KEYS = {"sklearn": {"loader"}, "generated": {"generator", "params"},
             "file": {"path", "format"}, "openml": {"id", "cache_dir"}}
REQUIRED_KEY = {"sklearn": "loader", "generated": "generator", "file": "path", "openml": "id"}
IMAGE_SOURCES = "an .npz file (source.kind: file) or sklearn's digits"


def resolve(path_or_name: str | Path) -> Path:
    """A path to a YAML file as given; a bare name means ``datasets/<name>.yaml`` in the project."""
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        return path
    bundled = DATASETS / f"{path}.yaml"
    if not bundled.exists():
        names = sorted(p.stem for p in DATASETS.glob("*.yaml"))
        raise ConfigError([Problem(str(path_or_name), "a dataset name must match a YAML file in "
                                   f"{DATASETS}", str(path_or_name),
                                   f"use one of {names} or give the path to a YAML file")])
    return bundled


def load_spec(path_or_name: str | Path) -> DatasetSpec:
    """The parsed spec, with ``path`` set to its YAML file and ``name`` defaulting to the stem."""
    path = resolve(path_or_name)
    data = read_yaml(path)
    if isinstance(data, dict):
        data = {"name": path.stem, **data, "path": str(path)}
    return parse(DatasetSpec, data, str(path))


def check_spec(spec: DatasetSpec) -> list[Problem]:
    """Everything that can be wrong in the dataset YAML itself, all at once."""
    return _source_keys(spec) + _source_kind(spec) + _sequence(spec) + _roles(spec)


def _source_keys(spec: DatasetSpec) -> list[Problem]:
    source, kind = spec.source, spec.source.kind
    problems = []
    if getattr(source, REQUIRED_KEY[kind]) is None:
        problems.append(Problem(where(spec, f"source.{REQUIRED_KEY[kind]}"),
                                f"is required when source.kind is {kind}",
                                fix=f"add source.{REQUIRED_KEY[kind]}"))
    for key in ("loader", "generator", "params", "path", "format", "id", "cache_dir"):
        if getattr(source, key) not in (None, {}) and key not in USED_KEYS[kind]:
            problems.append(Problem(where(spec, f"source.{key}"), f"is not used when source.kind "
                                    f"is {kind}", getattr(source, key), "remove the key"))
    return problems


def _source_kind(spec: DatasetSpec) -> list[Problem]:
    kind = spec.source.kind
    if getattr(spec.source, REQUIRED_KEY[kind]) is None:
        return []
    problems = {"sklearn": _sklearn, "generated": _generated, "file": _file,
                "openml": lambda s: []}[kind](spec)
    image_ok = (kind == "sklearn" and spec.source.loader == "digits") or (
        kind == "file" and _format(spec) == "npz")
    if spec.modality == "image" and not image_ok:
        problems.append(Problem(where(spec, "modality"), f"image datasets must come from "
                                f"{IMAGE_SOURCES}", spec.modality, "set modality: tabular"))
    return problems


def _sklearn(spec: DatasetSpec) -> list[Problem]:
    if spec.source.loader in SKLEARN_LOADERS:
        return []
    return [Problem(where(spec, "source.loader"), f"must be one of {list(SKLEARN_LOADERS)}",
                    spec.source.loader, "use source.kind: file for other data")]


def _generated(spec: DatasetSpec) -> list[Problem]:
    name = spec.source.generator
    if name not in generators.GENERATORS:
        return [Problem(where(spec, "source.generator"), f"must be one of "
                        f"{sorted(generators.GENERATORS)}", name)]
    known = set(inspect.signature(generators.GENERATORS[name]).parameters)
    problems = [Problem(where(spec, f"source.params.{key}"), f"must be a parameter of generator "
                        f"{name}: {sorted(known)}", value, "remove or rename it")
                for key, value in spec.source.params.items() if key not in known]
    if name == "dna_motifs" and spec.modality != "sequence":
        problems.append(Problem(where(spec, "modality"), "must be sequence for generator "
                                "dna_motifs", spec.modality, "set modality: sequence"))
    return problems


def _format(spec: DatasetSpec) -> str | None:
    return spec.source.format or files.infer_format(Path(spec.source.path))


def _file(spec: DatasetSpec) -> list[Problem]:
    path, fmt, problems = data_file(spec), _format(spec), []
    if not path.is_file():
        problems.append(Problem(where(spec, "source.path"), f"must name an existing file (looked "
                                f"for {path}, relative to the YAML's folder)", spec.source.path,
                                "fix the path or move the file"))
    if fmt is None:
        problems.append(Problem(where(spec, "source.format"), "must be given when the suffix does "
                                "not tell it (.csv, .tsv, .parquet, .npz, optionally .gz)",
                                spec.source.path, "add source.format: csv|tsv|parquet|npz"))
    if fmt == "npz" and spec.modality != "image":
        problems.append(Problem(where(spec, "modality"), "must be image for .npz files",
                                spec.modality, "set modality: image"))
    if fmt not in (None, "npz") and spec.target is None:
        problems.append(Problem(where(spec, "target"), "is required for table files",
                                fix="add target: <the label column>"))
    return problems


def _sequence(spec: DatasetSpec) -> list[Problem]:
    seq = spec.sequence
    if (spec.modality == "sequence") != (seq is not None):
        rule = ("a sequence: block (column, alphabet, k) is required when modality is sequence"
                if seq is None else "sequence: is only used when modality is sequence")
        fix = "add sequence: {column: ..., alphabet: dna}" if seq is None else (
            "set modality: sequence or remove the sequence: block")
        return [Problem(where(spec, "sequence"), rule, spec.modality, fix)]
    problems = []
    if seq is not None:
        size = len(views.ALPHABETS[seq.alphabet])
        if seq.k < 1 or size**seq.k > views.MAX_KMER_FEATURES:
            problems.append(Problem(where(spec, "sequence.k"), f"must be at least 1 and keep "
                                    f"{size}**k <= {views.MAX_KMER_FEATURES} k-mer features", seq.k,
                                    "use k of 3 to 6 for dna, 1 to 3 for protein"))
        if seq.max_length is not None and seq.max_length < 1:
            problems.append(Problem(where(spec, "sequence.max_length"), "must be at least 1",
                                    seq.max_length, "remove it to use the longest sequence"))
    return problems


# Pairs of roles one column may hold at once: a group column may also be metadata, so that the
# report scores each group (patient, batch, site) as a subgroup.
SHARED_ROLES = {frozenset({"group", "metadata"})}


def _roles(spec: DatasetSpec) -> list[Problem]:
    """A column plays one role only (target, group, sequence, drop, categorical or metadata),
    except a group column, which may also be listed under metadata."""
    roles = {"target": [spec.target], "group": [spec.group], "drop": spec.drop,
             "categorical": spec.categorical, "metadata": spec.metadata,
             "sequence.column": [spec.sequence.column if spec.sequence else None]}
    problems = []
    for column in sorted({c for cols in roles.values() for c in cols if c is not None}):
        keys = [k for k, cols in roles.items() if column in cols]
        if len(keys) > 1 and frozenset(keys) not in SHARED_ROLES:
            problems.append(Problem(where(spec, keys[0]), f"a column may play one role only (a "
                                    f"group column may also be metadata), but it is listed under "
                                    f"{keys}", column, "keep it under one key"))
    for key in ("drop", "categorical", "metadata"):
        dup = sorted(c for c, n in Counter(roles[key]).items() if n > 1)
        if dup:
            problems.append(Problem(where(spec, key), "must not list a column twice", dup,
                                    "list each column once"))
    return problems
