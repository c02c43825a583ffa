"""Batch effects (Tip 4): do the features carry the batch, does the batch carry the label, and
what would a split that ignores the batches have reported?

A model that learns the batch instead of the biology scores well whenever train and test share
batches. Grouped splits stop that; these checks say how much was at stake.
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .findings import finding

BATCH_MARGIN = 0.2  # balanced accuracy above chance that counts as "features carry the batch"
CONFOUND_V = 0.3  # Cramér's V between batch and label that counts as confounded
ALPHA = 0.01
MAX_FEATURES = 500  # the most variable features are enough to see a batch, and keep it cheap


def _codes(groups) -> np.ndarray:
    return np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]


def predictability(data, seed: int) -> dict:
    """Cross-validated balanced accuracy of a logistic regression predicting the group.

    Only for groups that look like batches (few, each with several examples): predicting one of
    hundreds of patients from a handful of samples each says nothing about batch effects.
    """
    if data.groups is None:
        return finding("batch", "info", "No batch or group column declared")
    g = _codes(data.groups)
    sizes = np.bincount(g)
    folds = int(min(5, sizes.min()))
    if len(sizes) > max(2, data.n_samples // 5) or folds < 2:
        return finding("batch", "info", "Groups too small to test as batches",
                       f"{len(sizes)} groups, the smallest with {sizes.min()} examples.")
    X = data.X
    if X.shape[1] > MAX_FEATURES:  # the most variable features, chosen without the groups
        X = X[:, np.argsort(-np.nanvar(X, axis=0))[:MAX_FEATURES]]
    model = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                          StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    pred = cross_val_predict(model, X, g, cv=cv)
    bacc, chance = float(balanced_accuracy_score(g, pred)), 1.0 / len(sizes)
    p = float(stats.binomtest(int((pred == g).sum()), len(g), sizes.max() / len(g),
                              alternative="greater").pvalue)
    numbers = dict(balanced_accuracy=bacc, chance=chance, p=p, groups=len(sizes))
    if bacc - chance > BATCH_MARGIN and p < ALPHA:
        return finding("batch", "warning", "The features carry the batch",
                       f"A logistic regression tells the {len(sizes)} groups apart with balanced "
                       f"accuracy {bacc:.2f} (chance {chance:.2f}). The splits keep each group on "
                       "one side, so models cannot score by recognising it; the random-split gap "
                       "shows what a non-grouped split would have reported.", **numbers)
    return finding("batch", "ok", "The features do not reveal the batch",
                   f"Balanced accuracy {bacc:.2f} for the group (chance {chance:.2f}).", **numbers)


def confounding(data) -> dict:
    """Is the label unevenly spread over the groups? Then batch and biology cannot be told
    apart: a model can reach the label through the batch, and grouped splits lose classes."""
    if data.groups is None or data.task == "regression":
        return finding("confounding", "info", "No group column, or a regression target")
    g = _codes(data.groups)
    table = np.array([np.bincount(data.y[g == k], minlength=data.n_classes) for k in np.unique(g)])
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    v = float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))
    numbers = dict(cramers_v=v, p=float(p), table=table)
    if v >= CONFOUND_V and p < ALPHA:
        return finding("confounding", "problem", "The batch is confounded with the label",
                       f"Classes are spread unevenly over the groups (Cramér's V {v:.2f}, "
                       f"p = {p:.2g}): a model can predict the label from batch signal, and no "
                       "split can separate the two. Balance the design or correct the batch "
                       "within each training fold.", **numbers)
    return finding("confounding", "ok", "The label is spread evenly over the groups",
                   f"Cramér's V {v:.2f} (p = {p:.2g}).", **numbers)


def random_split(y: np.ndarray, n_test: int, seed: int, stratify: bool) -> tuple:
    """A random (stratified) split with as many test examples as the grouped outer fold."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    train, test = train_test_split(rows, test_size=n_test, random_state=seed,
                                   stratify=y if stratify else None)
    return np.sort(train), np.sort(test)


def gap_finding(rows: list[dict], tolerance: float) -> dict:
    """Summarise the grouped vs random split scores of the best learners (rows from phase)."""
    if not rows:
        return finding("split_gap", "info", "No grouped vs random comparison",
                       "Only for datasets split by group, once the best learners are known.")
    parts, worst = [], -np.inf
    for r in rows:
        parts.append(f"{r['learner']}: {r['grouped']:.3f} grouped vs {r['random']:.3f} random "
                     f"({r['gap']:+.3f})")
        worst = max(worst, r["gap"])
    level = "warning" if worst > tolerance else "ok"
    title = ("A random split would have overstated the scores" if level == "warning"
             else "Grouped and random splits agree")
    return finding("split_gap", level, title, "; ".join(parts) + ". Positive: the optimism a "
                   "split that ignores the groups would have reported.", rows=rows)
