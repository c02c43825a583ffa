"""What drives predictions (Tip 8): permutation importance on the outer test folds, and how much
the best classical and the best deep model agree on it.

Permutation importance (sklearn.inspection.permutation_importance) asks how much the test score
drops when one feature's values are shuffled across test examples: it needs no access to model
internals, so classical and deep models are read the same way. Scoring every feature of a wide
dataset would cost thousands of predictions, so only a documented subset is scored: the
``k`` features most associated with the label on the fold's *training* rows (univariate AUROC,
or |Spearman rho| for regression), the same subset for both models, on at most ``MAX_ROWS`` test
examples per fold. For views with more than two
axes (one-hot sequences, images) each element of the flattened view is a feature.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.inspection import permutation_importance

from .. import metrics
from .leakage import feature_auroc

MAX_ROWS = 200  # test examples scored per fold: enough for a stable score, and bounded cost
COLUMNS = ["dataset", "role", "learner", "view", "outer_fold", "feature", "importance", "sd"]


def flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X).reshape(len(X), -1)


def candidates(X: np.ndarray, y: np.ndarray, task: str, n_classes: int, k: int) -> np.ndarray:
    """Indices of the ``k`` features (of the flattened view) most associated with ``y``."""
    Xf = flat(X).astype(np.float64)
    if Xf.shape[1] <= k:
        return np.arange(Xf.shape[1])
    if task == "regression":
        score = np.nan_to_num(np.abs(stats.spearmanr(Xf, y, nan_policy="omit")[0][-1, :-1]))
    else:
        score = feature_auroc(Xf, y, n_classes)
    return np.sort(np.argsort(-score, kind="stable")[:k])


def test_rows(y: np.ndarray, seed: int, task: str) -> np.ndarray:
    """Positions of at most MAX_ROWS test examples (stratified), so that importance on a large
    test fold costs no more than on a small one."""
    if len(y) <= MAX_ROWS:
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(len(y)), train_size=MAX_ROWS, random_state=seed,
                               stratify=y if task != "regression" else None)
    return np.sort(keep)


class _Subset:
    """Presents a fitted model as one that takes only the candidate features: the others stay
    at their real test values, so permuting a candidate moves only that feature."""

    def __init__(self, predict, X_full: np.ndarray, columns: np.ndarray):
        self.predict_fn, self.X_full, self.columns = predict, flat(X_full), columns
        self.shape = np.asarray(X_full).shape

    def fit(self, X, y):  # pragma: no cover - sklearn's check_is_fitted is not called
        return self

    def output(self, X_sub: np.ndarray) -> np.ndarray:
        X = self.X_full.copy()
        X[:, self.columns] = X_sub
        return self.predict_fn(X.reshape(self.shape).astype(self.X_full.dtype, copy=False))


def importances(predict, X_test: np.ndarray, y_test: np.ndarray, columns: np.ndarray, task: str,
                metric: str, repeats: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of the drop in ``metric`` (oriented: positive = the feature matters)."""
    wrapper = _Subset(predict, X_test, columns)
    sign = 1.0 if metrics.higher_is_better(metric) else -1.0

    def scorer(est, X, y):
        return sign * metrics.score(task, metric, y, est.output(X))

    res = permutation_importance(wrapper, flat(X_test)[:, columns], y_test, scoring=scorer,
                                 n_repeats=repeats, random_state=seed, n_jobs=1)
    return res.importances_mean, res.importances_std


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def agreement(imp: pd.DataFrame, top: int = 10) -> dict | None:
    """Spearman correlation of the two models' mean importances over the features both scored,
    and the overlap of their top ``top`` features. None when they share fewer than three
    features (e.g. k-mer counts vs one-hot sequence positions)."""
    if imp["role"].nunique() < 2:
        return None
    mean = imp.groupby(["role", "feature"])["importance"].mean().unstack("role").dropna()
    if len(mean) < 3:
        return None
    rho, p = stats.spearmanr(mean["classical"], mean["deep"])
    tops = [set(mean[r].nlargest(min(top, len(mean))).index) for r in ("classical", "deep")]
    return {"spearman": float(rho) if np.isfinite(rho) else None,
            "p": float(p) if np.isfinite(p) else None, "top": top,
            "overlap": len(tops[0] & tops[1]), "shared": sorted(tops[0] & tops[1]),
            "n_features": int(len(mean))}


def top_features(imp: pd.DataFrame, role: str, n: int = 10) -> list[dict]:
    """The ``n`` features with the largest mean importance over folds for one model."""
    g = imp[imp["role"] == role].groupby("feature")["importance"].agg(["mean", "std", "count"])
    g = g.sort_values("mean", ascending=False).head(n)
    return [{"feature": f, "importance": float(r["mean"]),
             "sd": float(r["std"]) if np.isfinite(r["std"]) else 0.0, "folds": int(r["count"])}
            for f, r in g.iterrows()]
