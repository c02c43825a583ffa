"""Checks on loaded data: every problem found, each naming the YAML file, the key and the value.

Run on the raw frame before any view is built, and again (``validate_dataset``) on a Dataset a
caller assembled, so that a bad target or a class too small for the folds stops the run before
any compute is spent, with one message that lists everything to fix.
"""
from __future__ import annotations

import difflib
from typing import Callable

import numpy as np
import pandas as pd
from pandas.api import types

from ..errors import Problem
from ..specs import DatasetSpec
from .dataset import Dataset

Where = Callable[[str], str]
ROLE_KEYS = ("drop", "group", "categorical", "metadata")


def _where(spec: DatasetSpec | None, name: str) -> Where:
    origin = (spec.path or spec.name) if spec is not None else name
    return lambda key: f"{origin}: {key}"


def role_columns(spec: DatasetSpec, target: str) -> set[str]:
    """Columns that are not features: the target, group, drops, metadata and the sequence column."""
    seq = [spec.sequence.column] if spec.sequence else []
    return {target, *spec.drop, *spec.metadata, *seq} | ({spec.group} if spec.group else set())


def feature_columns(frame: pd.DataFrame, spec: DatasetSpec, target: str) -> list[str]:
    roles = role_columns(spec, target)
    return [c for c in frame.columns if c not in roles]


def is_declared_categorical(series: pd.Series, spec: DatasetSpec) -> bool:
    """Declared under ``categorical:``, or typed categorical by the file itself (Parquet, ARFF)."""
    return series.name in spec.categorical or isinstance(series.dtype, pd.CategoricalDtype)


def class_problems(labels: pd.Series, task: str, n_folds: int | None, at: Where) -> list[Problem]:
    """At least two classes, as many as the task says, and every class big enough for the folds."""
    counts = labels.astype(str).value_counts().sort_index()
    if len(counts) < 2:
        return [Problem(at("target"), "a classification target needs at least two classes",
                        {str(k): int(v) for k, v in counts.items()},
                        "check the target column, or set task: regression for a numeric target")]
    problems = []
    if (task == "binary") != (len(counts) == 2):
        right = "binary" if len(counts) == 2 else "multiclass"
        problems.append(Problem(at("task"), f"must match the target's {len(counts)} classes",
                                task, f"set task: {right}"))
    for label, count in counts.items():
        if n_folds and count < n_folds:
            problems.append(Problem(at("target"), f"class {label!r} has {count} samples, fewer than "
                                    f"the {n_folds} folds: stratified splits need at least one per "
                                    "fold", label, "use fewer folds or merge this class with another"))
    return problems


def group_problems(groups: pd.Series, n_folds: int | None, at: Where) -> list[Problem]:
    problems = []
    missing = int(groups.isna().sum())
    if missing:
        problems.append(Problem(at("group"), f"every row needs a group; {missing} of {len(groups)} "
                                "rows have none", groups.name, "fill the group column or drop those rows"))
    n_groups = groups.nunique()
    if n_folds and n_groups < n_folds:
        problems.append(Problem(at("group"), f"has {n_groups} groups, fewer than the {n_folds} folds",
                                groups.name, "use fewer folds or a finer group column"))
    return problems


def _missing_columns(frame: pd.DataFrame, spec: DatasetSpec, at: Where) -> list[Problem]:
    problems = []
    seq = {"sequence.column": [spec.sequence.column]} if spec.sequence else {}
    for key, wanted in {**{k: getattr(spec, k) for k in ROLE_KEYS}, **seq}.items():
        wanted = [wanted] if isinstance(wanted, str) else [c for c in wanted or []]
        absent = [c for c in wanted if c not in frame.columns]
        if absent:
            problems.append(Problem(at(key), "must name columns of the data", absent,
                                    f"check the spelling; {_preview(frame, near=absent)}"))
    return problems


def _preview(frame: pd.DataFrame, n: int = 30, near: list[str] = ()) -> str:
    """The columns (the first ``n``), after the closest matches to the names ``near``."""
    cols = [str(c) for c in frame.columns]
    close = [m for name in near for m in difflib.get_close_matches(str(name), cols, n=3)]
    text = ", ".join(cols[:n]) + (f", ... ({len(cols)} in all)" if len(cols) > n else "")
    return (f"did you mean {', '.join(dict.fromkeys(close))}? " if close else "") + f"columns: {text}"


def _infinite(series: pd.Series) -> np.ndarray:
    """Rows holding inf or -inf (a numeric column; False elsewhere)."""
    if not types.is_numeric_dtype(series) or types.is_bool_dtype(series):
        return np.zeros(len(series), dtype=bool)
    return np.isinf(series.to_numpy(dtype=np.float64, na_value=np.nan))


def _some(counts: dict, n: int = 10) -> str:
    """``name: count`` for the first ``n`` entries, and how many more there are."""
    text = ", ".join(f"{k}: {v}" for k, v in list(counts.items())[:n])
    return text + (f", ... ({len(counts)} in all)" if len(counts) > n else "")


def _target_problems(frame, spec, target, n_folds, at: Where) -> list[Problem]:
    if target not in frame.columns:
        return [Problem(at("target"), "must name a column of the data", target,
                        f"set target: to the label column; {_preview(frame, near=[target])}")]
    labels = frame[target]
    missing, infinite = int(labels.isna().sum()), _infinite(labels)
    problems = []
    if missing:
        problems.append(Problem(at("target"), f"must have a value in every row; {missing} of "
                                f"{len(labels)} rows are missing", target,
                                "remove those rows from the file or fill in their labels"))
    if infinite.any():
        problems.append(Problem(at("target"), f"must be a finite number in every row; "
                                f"{int(infinite.sum())} of {len(labels)} rows are inf or -inf",
                                target, "remove those rows from the file or correct their values"))
        labels = labels[~infinite]
    if spec.task == "regression":
        if not types.is_numeric_dtype(labels):
            problems.append(Problem(at("target"), "a regression target must be numeric", target,
                                    "set task: binary or multiclass, or fix the column"))
        return problems
    return (problems + class_problems(labels.dropna(), spec.task, n_folds, at)
            + _positive_problems(labels.dropna(), spec, at))


def _positive_problems(labels: pd.Series, spec: DatasetSpec, at: Where) -> list[Problem]:
    if spec.positive is None:
        return []
    if spec.task != "binary":
        return [Problem(at("positive"), "is for binary tasks only", spec.positive,
                        "remove positive: (or set task: binary)")]
    from .build import encode_labels

    names = encode_labels(labels)[1]
    if spec.positive not in names:
        return [Problem(at("positive"), "must be one of the target's values", spec.positive,
                        f"use one of {names}")]
    return []


def _feature_problems(frame, spec, target, at: Where) -> list[Problem]:
    columns = feature_columns(frame, spec, target)
    if spec.modality == "sequence":
        if columns:
            return [Problem(at("sequence.column"), "sequence datasets use only the sequence "
                            "column as features; every other column needs a role", columns,
                            "list them under drop: or metadata:")]
        return []
    bad = [c for c in columns if not (types.is_numeric_dtype(frame[c]) or types.is_bool_dtype(frame[c])
                                      or is_declared_categorical(frame[c], spec))]
    if bad:
        return [Problem(at("categorical"), "feature columns must be numeric or declared "
                        "categorical", bad, "declare them under categorical: (to encode) or "
                        "drop: (to ignore)")]
    return []


def _infinite_problems(frame, spec, target, at: Where) -> list[Problem]:
    """inf in a feature column: it would break scaling and most learners, and no imputer
    treats it as missing, so it is refused like a missing label, naming the columns."""
    counts = {str(c): int(n) for c in feature_columns(frame, spec, target)
              if (n := _infinite(frame[c]).sum())}
    if not counts:
        return []
    return [Problem(at("features"), f"feature values must be finite; {len(counts)} column"
                    f"{'s hold' if len(counts) > 1 else ' holds'} inf or -inf (column: rows)",
                    _some(counts), "replace them with finite values, or leave those cells empty "
                    "(missing values are imputed inside each pipeline), or list the column under "
                    "drop:")]


def _no_rows(frame: pd.DataFrame, spec: DatasetSpec, at: Where) -> Problem:
    key = "source.path" if spec.source.kind == "file" else "source"
    return Problem(at(key), f"must hold at least one row of data; it has a header of "
                   f"{len(frame.columns)} columns and no rows", "0 rows",
                   "check that the file is complete (an export may stop after the header)")


def _sequence_problems(frame, spec, at: Where) -> list[Problem]:
    column = spec.sequence.column if spec.sequence else None
    if column is None or column not in frame.columns:
        return []
    values = frame[column]
    bad = int(sum(not isinstance(v, str) or not v for v in values))
    if bad:
        return [Problem(at("sequence.column"), f"every row needs a non-empty sequence; {bad} of "
                        f"{len(values)} rows have none", column, "remove those rows")]
    return []


def validate_frame(frame: pd.DataFrame, spec: DatasetSpec, target: str | None = None,
                   n_folds: int | None = None) -> list[Problem]:
    """All problems of a raw frame against its spec (``target`` defaults to the spec's)."""
    at = _where(spec, spec.name)
    target = target or spec.target or "target"
    problems = _missing_columns(frame, spec, at)
    if len(frame.index) == 0:  # every other check would only echo this one
        absent = [] if target in frame.columns else _target_problems(frame, spec, target, None, at)
        return problems + absent + [_no_rows(frame, spec, at)]
    problems += _target_problems(frame, spec, target, n_folds, at)
    # With the target misspelled, its likely column is left out of the feature check: the label
    # itself must not be reported as an undeclared categorical feature.
    likely = [] if target in frame.columns else difflib.get_close_matches(
        str(target), [str(c) for c in frame.columns], n=1)
    problems += _feature_problems(frame.drop(columns=likely), spec, target, at)
    problems += _infinite_problems(frame, spec, target, at)
    problems += _sequence_problems(frame, spec, at)
    if spec.group and spec.group in frame.columns:
        problems += group_problems(frame[spec.group], n_folds, at)
    return problems


def validate_dataset(data: Dataset | pd.DataFrame, spec: DatasetSpec | None = None,
                     n_folds: int | None = None) -> list[Problem]:
    """Problems of a loaded Dataset, or of a raw frame (then ``spec`` is required)."""
    if isinstance(data, pd.DataFrame):
        if spec is None:
            raise TypeError("validating a frame needs its DatasetSpec")
        return validate_frame(data, spec, n_folds=n_folds)
    at = _where(spec, data.name)
    problems = []
    if data.task != "regression":
        names = np.asarray(data.classes or [], dtype=object)
        labels = pd.Series(names[data.y] if len(names) else data.y)
        problems += class_problems(labels, data.task, n_folds, at)
    if data.groups is not None:
        problems += group_problems(pd.Series(data.groups, name="group"), n_folds, at)
    return problems
