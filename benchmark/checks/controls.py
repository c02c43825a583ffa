"""Shuffled-label controls (Tip 7; Chuang & Keiser 2018, adversarial controls).

Each cell's tuned configuration is refit on its outer training rows with the labels permuted
across those rows, then scored on the real outer test fold. A model that learned nothing can only
score at chance there; one that scores above chance is reading the answer from somewhere other
than the training labels (test labels reaching the pipeline, a preprocessing step fit on all rows,
a scoring bug). The refits run in the cell's Ray task (``search.outer_evaluation``), so they
cost no extra scheduling; this module holds the refit, the chance levels and the flags.

Each cell permutes with its own seeds, so one refit per cell (the default) already gives every
learner one control score per outer fold, each from a different permutation: a band as wide as
the real scores' and a third of the cost of three refits per cell, which on the bundled studies
would add about a third to the cells' compute.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
from scipy import stats

from .. import metrics
from ..seeding import derive_seed

# Metrics a flag can be raised on: the primary metric when it is one of these, else the first
# that suits the task. Proper scores (log loss, Brier) depend on calibration, not on ranking.
FLAG_METRICS = {"binary": ["auroc", "auprc", "balanced_accuracy", "mcc", "accuracy"],
                "multiclass": ["auroc", "balanced_accuracy", "auprc", "mcc", "accuracy"],
                "regression": ["r2"]}
ALPHA = 0.05
COLUMNS = ["dataset", "outer_fold", "learner", "family", "seed", "metric", "value", "chance"]


def shuffled_fits(fit, predict, data, fold, X, config: dict, n: int, cell_seed: int,
                  fit_seed: int, threads: int) -> list[dict]:
    """Refit ``config`` ``n`` times on permuted outer-training labels; score on the real test fold.

    ``fit``/``predict`` are the harness's own (search.fit, search._predict), so a control goes
    through exactly the code path of the real refit; only the training labels differ. The
    permutation is across all outer training rows (not within groups): it must destroy every
    link between features and labels.
    """
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        rng = np.random.default_rng(derive_seed(cell_seed, "control", i))
        y = np.array(data.y, copy=True)
        y[fold.train] = rng.permutation(y[fold.train])
        try:
            model = fit(config, dataclasses.replace(data, y=y), fold.train, fit_seed, threads)
            pred = predict(model, X[fold.test])
            scores = metrics.score_all(data.task, data.y[fold.test], pred)
            out.append({"seed": i, "scores": scores, "error": None})
        except Exception as exc:  # a control that cannot be fit is reported, never scored
            out.append({"seed": i, "scores": {}, "error": f"{type(exc).__name__}: {exc}"})
        out[-1]["seconds"] = time.perf_counter() - t0
    return out


def chance(task: str, metric: str, y_test: np.ndarray, n_classes: int) -> float:
    """The score of a model with no information, on this test fold.

    AUROC 0.5; AUPRC the positive prevalence (macro: 1/K); balanced accuracy 1/K; MCC and R^2 0;
    accuracy the majority share; log loss and Brier of predicting the test prevalences; RMSE/MAE
    of predicting the test mean/median.
    """
    y = np.asarray(y_test)
    if task == "regression":
        return {"r2": 0.0, "rmse": float(np.std(y)),
                "mae": float(np.mean(np.abs(y - np.median(y))))}.get(metric, float("nan"))
    p = np.bincount(y.astype(int), minlength=n_classes) / max(len(y), 1)
    values = {"auroc": 0.5, "auprc": float(p[1]) if n_classes == 2 else 1.0 / n_classes,
              "balanced_accuracy": 1.0 / n_classes, "mcc": 0.0, "accuracy": float(p.max()),
              "log_loss": float(-(p[p > 0] * np.log(p[p > 0])).sum()), "brier": float(1 - (p**2).sum())}
    return values.get(metric, float("nan"))


def chance_all(task: str, y_test: np.ndarray, n_classes: int) -> dict[str, float]:
    return {m: chance(task, m, y_test, n_classes) for m in metrics.panel(task)}


def flag_metric(task: str, primary: str) -> str:
    options = FLAG_METRICS["regression" if task == "regression" else task]
    return primary if primary in options else options[0]


def frame(rows: list[dict]) -> pd.DataFrame:
    """The ``controls.parquet`` table: one row per control refit and metric."""
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(["dataset", "outer_fold", "learner", "seed", "metric"], ignore_index=True)


def summarise(controls: pd.DataFrame, scores: pd.DataFrame, datasets: dict, tolerance: float
              ) -> list[dict]:
    """Per (dataset, learner): control mean and range vs chance and vs the real tuned score.

    A learner is flagged when its mean control score (over folds and seeds) beats chance by more
    than ``tolerance`` on the dataset's flag metric, consistently: a one-sided t-test of the
    control scores against their chance levels must also give p < ALPHA. With permuted labels
    nothing is learnable, so such an excess is a sign of leakage; the tolerance and the test
    keep the noise of small test folds from raising false alarms.
    """
    rows = []
    for (d, learner), g in controls.groupby(["dataset", "learner"], sort=False):
        info = datasets.get(d, {})
        m = flag_metric(info.get("task", "binary"), info.get("metric", "auroc"))
        c = g[(g["metric"] == m)].dropna(subset=["value"])
        real = scores[(scores["dataset"] == d) & (scores["learner"] == learner)
                      & (scores["config"] == "tuned") & (scores["metric"] == m)]["value"].dropna()
        if not len(c):
            continue
        diff = (c["value"] - c["chance"]).to_numpy() * (1 if metrics.higher_is_better(m) else -1)
        p = _p_above(diff)
        rows.append({"dataset": d, "learner": learner, "family": g["family"].iloc[0], "metric": m,
                     "chance": float(c["chance"].mean()), "mean": float(c["value"].mean()),
                     "low": float(c["value"].min()), "high": float(c["value"].max()),
                     "n": int(len(c)), "real": float(real.mean()) if len(real) else float("nan"),
                     "excess": float(diff.mean()), "p": p,
                     "flag": bool(diff.mean() > tolerance and p < ALPHA)})
    return rows


def _p_above(diff: np.ndarray) -> float:
    """One-sided p-value that the mean excess over chance is above zero (1.0: not testable)."""
    if len(diff) < 2:
        return 0.0 if len(diff) and diff[0] > 0 else 1.0
    if np.ptp(diff) == 0:  # identical scores: the sign says it all
        return 0.0 if diff[0] > 0 else 1.0
    return float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)
