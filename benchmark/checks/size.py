"""Enough data? (Tip 1) and a metric that survives imbalance (Tip 7).

Deep learning rarely pays off with few examples per class; Lee et al. suggest about 100 per class
as a floor. A learning curve (scores with 25, 50, 75 and 100% of the outer training part) shows
whether more data would still help, and whether deep and classical would trade places.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import metrics
from .findings import finding

PER_CLASS = 100  # Tip 1's rule of thumb
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
CURVE_COLUMNS = ["dataset", "role", "learner", "outer_fold", "fraction", "n_train", "metric",
                 "value"]


def enough_data(data) -> dict:
    """Examples per class (classification) or in all (regression) against the rule of thumb."""
    if data.task == "regression":
        n = data.n_samples
        level = "warning" if n < PER_CLASS * 2 else "ok"
        return finding("size", level, f"{n} examples", "Rule of thumb: a few hundred examples "
                       "before deep learning is worth trying.", n=n)
    counts = np.bincount(data.y, minlength=data.n_classes)
    small = {c: int(n) for c, n in zip(data.classes, counts) if n < PER_CLASS}
    numbers = dict(per_class={c: int(n) for c, n in zip(data.classes, counts)}, floor=PER_CLASS)
    if small:
        names = ", ".join(f"{c} ({n})" for c, n in small.items())
        return finding("size", "warning", "Fewer than 100 examples per class",
                       f"{names}: below the rule of thumb of {PER_CLASS} per class (Tip 1); deep "
                       "learners are unlikely to beat classical ones here, and scores are noisy.",
                       **numbers)
    return finding("size", "ok", f"At least {PER_CLASS} examples per class",
                   f"The smallest class has {counts.min()} examples.", **numbers)


def metric_choice(data, metric: str) -> dict:
    """Why the primary metric is what it is: imbalance-aware when classes are uneven."""
    if data.task == "regression":
        return finding("metric", "ok", f"Primary metric: {metric}", "Regression.", metric=metric)
    counts = np.bincount(data.y, minlength=data.n_classes)
    auto = metrics.default_metric(data.task, counts)
    imbalanced = counts.min() < counts.max() / 3
    why = (f"Classes are imbalanced (smallest {counts.min()}, largest {counts.max()}: under a third), "
           f"so the default is {auto}, which a majority-class model cannot inflate."
           if imbalanced else f"Classes are roughly balanced (smallest {counts.min()}, largest "
           f"{counts.max()}), so the default is {auto}.")
    level = "warning" if imbalanced and metric in ("accuracy", "auroc") else "ok"
    if level == "warning":
        why += f" This study overrides it with {metric}, which imbalance can flatter."
    return finding("metric", level, f"Primary metric: {metric}", why, metric=metric,
                   default=auto, counts=counts)


def subsample(train: np.ndarray, y: np.ndarray, fraction: float, seed: int, stratify: bool
              ) -> np.ndarray:
    """A nested-free random ``fraction`` of the training rows, stratified by class."""
    if fraction >= 1.0:
        return train
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(train, train_size=fraction, random_state=seed,
                               stratify=y[train] if stratify else None)
    return np.sort(keep)


def curve_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def curve_summary(curve: pd.DataFrame) -> list[dict]:
    """Mean score per (model, fraction): the numbers behind the learning-curve plot."""
    if not len(curve):
        return []
    g = curve.groupby(["role", "learner", "fraction"])["value"].agg(["mean", "std"]).reset_index()
    return [{"role": r.role, "learner": r.learner, "fraction": float(r.fraction),
             "mean": float(r.mean), "sd": float(r.std) if np.isfinite(r.std) else 0.0}
            for r in g.itertuples()]
