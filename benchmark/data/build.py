"""Assemble a validated Dataset from a spec: read, check everything, encode, build the views.

Encoding decisions, kept simple on purpose:
- classification labels become int codes of the sorted unique labels (numbers sorted as numbers),
  and ``classes`` holds those labels as strings;
- categorical features are ordinal-encoded (sorted categories -> 0, 1, ...; missing stays NaN) into
  the tabular view, and their indices are listed in ``Dataset.categorical`` so a learner can one-hot
  them inside its own pipeline (one-hot here would fix the width for every learner);
- the group column is not a feature: it only decides the splits.

Every change made here, and every oddity found on the way (duplicates, letters outside the
alphabet, values that look like codes for "missing"), is kept in ``Dataset.notes`` (see ``notes``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types

from ..errors import Problem, raise_if
from ..specs import DatasetSpec
from . import notes, views
from .dataset import Dataset
from .spec_file import check_spec, load_spec
from .sources import Raw, read_source, where
from .validate import feature_columns, is_declared_categorical, validate_frame


def _label_text(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode_labels(labels: pd.Series, positive: str | None = None) -> tuple[np.ndarray, list[str]]:
    """(int64 codes, class names as strings), classes sorted by their original values; the class
    written ``positive`` (if given) is moved last, so that a binary task scores it as class 1."""
    values = labels.to_numpy()
    if not (types.is_numeric_dtype(labels) or types.is_bool_dtype(labels)):
        values = labels.astype(str).to_numpy(dtype=object)
    uniques = np.unique(values)
    codes = np.searchsorted(uniques, values).astype(np.int64)
    names = [_label_text(u) for u in uniques]
    if positive is not None and positive in names:
        k = names.index(positive)
        order = [i for i in range(len(names)) if i != k] + [k]
        codes = np.argsort(order)[codes]
        names = [names[i] for i in order]
    return codes, names


def encode_column(series: pd.Series, categorical: bool) -> np.ndarray:
    """float64 values; categories as ordinal codes of their sorted values, NaN kept as NaN."""
    if not categorical:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    present = series.dropna()
    uniques = np.unique(present.astype(str).to_numpy(dtype=object))
    codes = np.full(len(series), np.nan)
    codes[series.notna().to_numpy()] = np.searchsorted(uniques, present.astype(str).to_numpy(dtype=object))
    return codes


def _tabular(frame: pd.DataFrame, spec: DatasetSpec, target: str):
    columns = feature_columns(frame, spec, target)
    flags = [is_declared_categorical(frame[c], spec) for c in columns]
    X = np.column_stack([encode_column(frame[c], f) for c, f in zip(columns, flags)]) if columns \
        else np.zeros((len(frame), 0))
    return {"tabular": X}, [str(c) for c in columns], [i for i, f in enumerate(flags) if f]


def _views(raw: Raw, spec: DatasetSpec, target: str):
    """(views, feature names, categorical indices) for the spec's modality."""
    if spec.modality == "image":
        return (*views.image_views(raw.images), [])
    if spec.modality == "sequence":
        seq = spec.sequence
        sequences = raw.frame[seq.column].tolist()
        return (*views.sequence_views(sequences, seq.alphabet, seq.k, seq.max_length), [])
    return _tabular(raw.frame, spec, target)


def _checksum_problems(spec: DatasetSpec, raw: Raw) -> list[Problem]:
    expected = spec.provenance.sha256
    if not expected or expected.lower() == raw.sha256:
        return []
    what = raw.origin.get("file") or f"the {spec.source.kind} data of {spec.name}"
    return [Problem(where(spec, "provenance.sha256"), f"{what} must match the recorded checksum: "
                    f"expected {expected}, actual {raw.sha256}", what,
                    "if the data changed on purpose, set provenance.sha256 to the actual value; "
                    "otherwise restore the original file")]


def load_dataset(spec: DatasetSpec | str, n_folds: int | None = None) -> Dataset:
    """The Dataset of a spec (or a spec's path or bundled name); ConfigError lists every problem.

    ``n_folds`` (when given) also checks that every class and the groups can fill that many folds.
    """
    if not isinstance(spec, DatasetSpec):
        spec = load_spec(spec)
    raise_if(check_spec(spec))
    raw = read_source(spec)
    target = spec.target or raw.target or "target"
    problems = (_checksum_problems(spec, raw) + raw.problems
                + validate_frame(raw.frame, spec, target, n_folds))
    raise_if(problems)
    return _assemble(raw, spec, target)


def _assemble(raw: Raw, spec: DatasetSpec, target: str) -> Dataset:
    frame = raw.frame
    if spec.task == "regression":
        y, classes = frame[target].to_numpy(dtype=np.float64), None
    else:
        y, classes = encode_labels(frame[target], spec.positive)
    view_map, names, categorical = _views(raw, spec, target)
    provenance = {**spec.provenance.model_dump(), **raw.origin}
    data = Dataset(
        name=spec.name, task=spec.task, modality=spec.modality, y=y, views=view_map,
        feature_names=names, classes=classes,
        groups=frame[spec.group].to_numpy() if spec.group else None, categorical=categorical,
        sha256=raw.sha256, provenance=provenance, sensitive=spec.sensitive,
        metadata={c: frame[c].to_numpy() for c in spec.metadata})
    data.notes = _notes(raw, spec, target, data)
    return data


def _notes(raw: Raw, spec: DatasetSpec, target: str, data: Dataset) -> list[dict]:
    """What loading changed and what looks odd, in the order a reader checks them."""
    frame = raw.frame
    out = [notes.rows_note(len(frame)), *raw.notes,
           *notes.labels_note(data.classes, spec.task, spec.positive)]
    if spec.modality == "tabular":
        columns = feature_columns(frame, spec, target)
        numeric = [c for i, c in enumerate(columns) if i not in data.categorical]
        out += notes.encoding_notes(frame, [str(c) for c in columns], data.categorical)
        out += notes.missing_note(data.X, data.feature_names)
        out += notes.sentinel_notes(frame, numeric + ([target] if spec.task == "regression" else []))
        keys, what = notes.row_keys(data.X), "feature row"
    elif spec.modality == "sequence":
        sequences = [str(s).upper() for s in frame[spec.sequence.column]]
        out += notes.sequence_notes(list(frame[spec.sequence.column]), spec.sequence.alphabet,
                                    spec.sequence.k, data.views["onehot"].shape[1])
        keys, what = notes.row_keys(sequences), "sequence"
    else:
        out += notes.image_notes(raw.images, data.views["image"])
        keys, what = notes.row_keys(data.X), "image"
    return out + notes.duplicate_notes(keys, data.y, what, spec.task)
