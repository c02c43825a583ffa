"""The split plan: outer test folds and inner tuning splits, fixed once per dataset and seed.

Every trial of every learner reads its indices from this plan; the plan's hash is recorded with
the results so a reader can check that all learners saw the same splits (Tip 7). When a group
column is declared, no group straddles train and test, in the outer and the inner splits alike.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import (GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold)

from .seeding import derive_seed


@dataclass(frozen=True)
class Fold:
    train: np.ndarray  # outer training rows
    test: np.ndarray  # outer test rows, touched once
    inner: tuple[tuple[np.ndarray, np.ndarray], ...]  # (inner train, validation) rows, all ⊂ train
    repeat: int = 0  # which shuffle of repeated outer cross-validation this fold belongs to


@dataclass(frozen=True)
class SplitPlan:
    dataset: str
    seed: int
    folds: tuple[Fold, ...]
    repeats: int = 1

    @property
    def digest(self) -> str:
        h = hashlib.sha256(self.dataset.encode())
        if self.repeats > 1:  # single-repeat plans keep the hash they always had
            h.update(f"repeats={self.repeats}|".encode())
        for fold in self.folds:
            for part in (fold.train, fold.test, *[i for pair in fold.inner for i in pair]):
                h.update(np.asarray(part, dtype=np.int64).tobytes())
                h.update(b"|")
        return h.hexdigest()

    def inner_digest(self, k: int) -> str:
        return inner_digest(self.folds[k])

    def to_json(self) -> dict:
        return {
            "dataset": self.dataset, "seed": self.seed, "repeats": self.repeats,
            "sha256": self.digest,
            "inner_sha256": [self.inner_digest(k) for k in range(len(self.folds))],
            "folds": [{"repeat": f.repeat, "train": f.train.tolist(), "test": f.test.tolist(),
                       "inner": [{"train": a.tolist(), "validation": b.tolist()} for a, b in f.inner]}
                      for f in self.folds],
        }

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()))


def inner_digest(fold: Fold) -> str:
    """Recorded with every trial: proof of the inner indices that trial really used."""
    h = hashlib.sha256()
    for train, val in fold.inner:
        h.update(np.asarray(train, np.int64).tobytes() + b"|" + np.asarray(val, np.int64).tobytes())
    return h.hexdigest()


def _splitter(n_splits: int, stratify: bool, grouped: bool, seed: int):
    if grouped:
        return (StratifiedGroupKFold(n_splits, shuffle=True, random_state=seed) if stratify
                else GroupKFold(n_splits, shuffle=True, random_state=seed))
    return (StratifiedKFold(n_splits, shuffle=True, random_state=seed) if stratify
            else KFold(n_splits, shuffle=True, random_state=seed))


def _split(rows, y, groups, n_splits, stratify, seed):
    """Yield (train, test) subsets of ``rows`` (absolute indices), sorted."""
    g = None if groups is None else groups[rows]
    splitter = _splitter(n_splits, stratify, g is not None, seed)
    for tr, te in splitter.split(np.zeros(len(rows)), y[rows], g):
        yield np.sort(rows[tr]), np.sort(rows[te])


def make_plan(dataset: str, y: np.ndarray, groups: np.ndarray | None, *, seed: int,
              outer_folds: int, repeats: int = 1, inner: str = "holdout", inner_folds: int = 5,
              holdout_fraction: float = 0.2, stratify: bool = True) -> SplitPlan:
    """Build the plan: ``repeats`` shuffles of ``outer_folds``-fold cross-validation, each with
    its own seed, flattened so that fold ``f`` belongs to repeat ``f // outer_folds``.

    ``inner="holdout"`` keeps one validation split of about ``holdout_fraction`` (the first fold
    of a round(1/fraction)-fold split, so grouping and stratification rules are the same as for
    k-fold); ``inner="kfold"`` keeps ``inner_folds``. Repeat 0 uses the seeds a single-repeat
    plan always used, so adding repeats never changes the first ``outer_folds`` folds.
    """
    rows = np.arange(len(y))
    folds = []
    for repeat in range(repeats):
        outer_seed = derive_seed(seed, dataset, "outer", *([repeat] if repeat else []))
        for train, test in _split(rows, y, groups, outer_folds, stratify, outer_seed):
            k = len(folds)
            n_inner = inner_folds if inner == "kfold" else max(2, round(1 / holdout_fraction))
            if groups is not None:  # few batches: as many inner folds as the training part has groups
                n_inner = min(n_inner, len(np.unique(groups[train])))
            pairs = list(_split(train, y, groups, n_inner, stratify,
                                derive_seed(seed, dataset, "inner", k)))
            folds.append(Fold(train, test, tuple(pairs if inner == "kfold" else pairs[:1]), repeat))
    return SplitPlan(dataset, seed, tuple(folds), repeats)
