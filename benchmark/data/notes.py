"""What loading did to the data, and what looks odd in it: reported, never silently fixed.

Loading changes data in ways a reader must know about: letters outside a sequence alphabet become
all-zero one-hot rows, categories become codes, pixels are rescaled. Tables also carry traps no
rule can settle alone: a code such as 9 or 999 for "unknown", a 0 where nothing was measured, the
same example twice with different labels. Each becomes a note, ``info`` (a change made on load)
or ``warning`` (something to look at), kept in the dataset profile, printed by ``validate`` and
shown in the report. Nothing here alters the data.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from pandas.api import types

from . import views
from .sentinels import table_findings

SHOWN = 10  # items listed in one note; the rest are counted


def note(level: str, topic: str, text: str, **numbers) -> dict:
    """A plain dict, so that it travels into the run manifest as JSON."""
    return {"level": level, "topic": topic, "text": text, "numbers": numbers}


def _listed(items: list[str]) -> str:
    more = f", ... ({len(items)} in all)" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


# ---------------------------------------------------------------- rows and labels

def rows_note(n: int) -> dict:
    """Loading never drops a row: a row it cannot use is a problem to fix in the file."""
    return note("info", "rows", f"{n} rows read, {n} used: none dropped", read=n, used=n)


def labels_note(classes: list[str] | None, task: str, positive: str | None) -> list[dict]:
    """How labels became class codes, and which class is scored as positive."""
    if classes is None:
        return []
    pairs = [f"{i} = {c}" for i, c in enumerate(classes)]
    order = ("sorted label, the positive class last" if task == "binary" and positive is not None
             else "sorted label")
    text = f"classes coded by {order} (code = label): {_listed(pairs)}"
    if task == "binary":
        why = "set by positive:" if positive is not None else "the class that sorts last"
        text += f"; scored as positive: {classes[-1]} ({why})"
    return [note("info", "labels", text, classes=list(classes))]


# ---------------------------------------------------------------- tables

def encoding_notes(frame: pd.DataFrame, columns: list[str], categorical: list[int]) -> list[dict]:
    """Categorical columns as ordinal codes; booleans as 0/1."""
    out = []
    if categorical:
        named = [f"{columns[i]} ({frame[columns[i]].nunique()} categories)" for i in categorical]
        out.append(note("info", "categorical", "categorical columns coded as 0, 1, ... in sorted "
                        f"order (missing stays missing): {_listed(named)}",
                        columns=[columns[i] for i in categorical]))
    flags = [c for c in columns if types.is_bool_dtype(frame[c])]
    if flags:
        out.append(note("info", "booleans", f"boolean columns read as 0/1: {_listed(flags)}",
                        columns=flags))
    return out


def missing_note(X: np.ndarray, names: list[str]) -> list[dict]:
    """Missing feature values are kept as missing; each pipeline imputes them from its training rows."""
    gaps = np.isnan(X)
    if not gaps.any():
        return []
    per = gaps.sum(axis=0)
    top = [f"{names[j]} {int(per[j])}" for j in np.argsort(-per, kind="stable")[:3] if per[j]]
    n_cols = int((per > 0).sum())
    return [note("info", "missing", f"{int(gaps.sum())} of {gaps.size} feature values "
                 f"({gaps.mean():.1%}) missing, in {n_cols} columns (most: {', '.join(top)}); "
                 "kept as missing and imputed inside each pipeline from its training rows only",
                 cells=int(gaps.sum()), columns=n_cols)]


def sentinel_notes(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Values that look like codes for "missing" or "unknown": warned about, never replaced."""
    found = table_findings(frame, columns)
    if not found:
        return []
    text = "; ".join(f["text"] for f in found[:SHOWN])
    more = f"; ... ({len(found)} values in all)" if len(found) > SHOWN else ""
    return [note("warning", "sentinels", f"implausible values, kept as they are: {text}{more}. If "
                 "they stand for missing values, leave those cells empty (they are then imputed "
                 "inside each pipeline)", findings=[{k: v for k, v in f.items() if k != "text"}
                                                    for f in found])]


# ---------------------------------------------------------------- duplicates

def row_keys(values: np.ndarray | list) -> np.ndarray:
    """One comparable key per row: a 64-bit hash of a numeric row (missing values equal each
    other), or the value itself (a sequence)."""
    if isinstance(values, np.ndarray) and values.ndim == 2:
        return pd.util.hash_pandas_object(pd.DataFrame(values), index=False).to_numpy()
    return np.asarray(values, dtype=object)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def duplicate_notes(keys: np.ndarray, y: np.ndarray, what: str, task: str) -> list[dict]:
    """Exact duplicates (same features and label) and conflicting ones (same features, different
    labels): the first can sit on both sides of a split, the second no learner can get all right.
    ``what`` names one example's features: "feature row", "sequence", "image"."""
    feature_ids = pd.factorize(keys)[0]
    pairs = pd.DataFrame({"f": feature_ids, "y": y})
    out = []
    exact = int(pairs.duplicated().sum())
    if exact:
        verb = "repeats" if exact == 1 else "repeat"
        features = "features" if what == "feature row" else what
        out.append(note("warning", "duplicates", f"exact duplicates: {_n(exact, 'row')} {verb} an "
                        f"earlier row's {features} and label; kept (the leakage check counts those "
                        "that land in both training and test)", rows=exact))
    labels_per = pairs.drop_duplicates().groupby("f")["y"].size()
    clashing = labels_per[labels_per > 1].index
    if len(clashing):
        rows = int(pairs["f"].isin(clashing).sum())
        label = "target values" if task == "regression" else "labels"
        out.append(note("warning", "conflicts", f"conflicting duplicates: {_n(len(clashing), what)} "
                        f"found with different {label}, in {rows} rows; kept (no learner can get "
                        "all of them right)", groups=len(clashing), rows=rows))
    return out


# ---------------------------------------------------------------- sequences and images

def sequence_notes(sequences: list[str], alphabet: str, k: int, length: int) -> list[dict]:
    """Letters outside the alphabet, lowercase, cut and padded sequences, sequences without a
    k-mer window: how each was encoded in the one-hot and k-mer views."""
    letters = set(views.ALPHABETS[alphabet])
    unknown, lower, hit, windows, skipped, short = Counter(), 0, 0, 0, 0, 0
    for s in map(str, sequences):
        bad = [ch for ch in s if ch.upper() not in letters]
        unknown.update(ch if ch.isprintable() and not ch.isspace() else repr(ch) for ch in bad)
        lower += sum(ch.islower() and ch.upper() in letters for ch in s)
        hit += bool(bad)
        n = len(s) - k + 1
        short += n <= 0
        windows += max(n, 0)
        if bad and n > 0:
            ok = np.array([ch.upper() in letters for ch in s])
            skipped += int((~np.lib.stride_tricks.sliding_window_view(ok, k).all(axis=1)).sum())
    out = []
    if unknown:
        counts = ", ".join(f"{ch}: {n}" for ch, n in unknown.most_common())
        out.append(note("warning", "letters", f"letters outside the {alphabet} alphabet "
                        f"({''.join(views.ALPHABETS[alphabet])}), count per letter: {counts} (in "
                        f"{hit} sequences); each is an all-zero row of the one-hot view, and the "
                        f"{skipped} of {windows} k-mer windows (k={k}) that hold one are skipped "
                        "(still counted in the frequencies' denominator)",
                        letters=dict(unknown), sequences=hit, windows_skipped=skipped,
                        windows=windows))
    if lower:
        out.append(note("info", "lowercase", f"{lower} lowercase letters read as uppercase",
                        letters=lower))
    if short:
        out.append(note("warning", "short", f"{short} sequences are shorter than k={k}: no k-mer "
                        "window, so their k-mer counts are all zero", sequences=short))
    out += _length_notes([len(str(s)) for s in sequences], length)
    return out


def _length_notes(lengths: list[int], length: int) -> list[dict]:
    out = []
    cut = [n - length for n in lengths if n > length]
    if cut:
        out.append(note("warning", "truncated", f"{len(cut)} sequences longer than "
                        f"sequence.max_length ({length}) cut to {length} letters in the one-hot view "
                        f"({sum(cut)} letters left out; the k-mer counts use every letter)",
                        sequences=len(cut), letters=sum(cut)))
    padded = sum(n < length for n in lengths)
    if padded:
        out.append(note("info", "padded", f"{padded} sequences shorter than {length} padded with "
                        "all-zero rows in the one-hot view", sequences=padded, length=length))
    return out


def image_notes(images: np.ndarray, image: np.ndarray) -> list[dict]:
    """Channel order and scaling, as ``views.image_view`` applied them."""
    raw = np.asarray(images)
    out = []
    if raw.ndim == 4 and raw.shape[1:] != image.shape[1:]:
        out.append(note("info", "channels", f"channels-last images {tuple(raw.shape[1:])} "
                        f"reordered to channels-first {tuple(image.shape[1:])}"))
    top = float(np.nanmax(raw)) if raw.size else 0.0
    if top > 1.0:
        by = 255.0 if top <= 255.0 else top
        why = "8-bit values" if by == 255.0 else "their maximum"
        out.append(note("info", "pixels", f"pixels divided by {by:g} ({why}) to lie in [0, 1]",
                        divided_by=by))
    return out


# ---------------------------------------------------------------- for people

def metric_reason(setting: str, task: str, class_counts: list[int] | None) -> str:
    """Why the primary metric is the one it is (``metrics.default_metric`` when ``auto``)."""
    if setting != "auto":
        return "set by the study's metric:"
    if task == "regression" or not class_counts:
        return "metric: auto, regression"
    small, large = min(class_counts), max(class_counts)
    side = "under" if small < large / 3 else "at least"
    return f"metric: auto; the smallest class ({small}) is {side} a third of the largest ({large})"


def summary(data, metric: str, setting: str) -> list[str]:
    """Lines for ``validate``: the dataset's shape and primary metric, then each note."""
    counts = np.bincount(data.y, minlength=data.n_classes).tolist() if data.classes else None
    averaged = " one-vs-rest, macro-averaged" if data.task == "multiclass" and metric in (
        "auroc", "auprc") else ""
    head = (f"{data.name}: {data.n_samples} rows x {data.X.shape[1]} features ({data.task}, "
            f"{data.modality}); primary metric {metric}{averaged} "
            f"({metric_reason(setting, data.task, counts)})")
    marks = {"info": "-", "warning": "! warning:"}
    return [head] + [f"  {marks.get(n['level'], '-')} {n['text']}" for n in data.notes]


def warnings(data) -> int:
    return sum(n["level"] == "warning" for n in data.notes)
