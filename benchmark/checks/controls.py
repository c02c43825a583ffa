"""Shuffled-label controls (Tip 7; Chuang & Keiser 2018, adversarial controls).

Each cell's tuned configuration is refit on its outer training rows with the labels permuted
across those rows, then scored on the real outer test fold. A model that learned nothing can only
score at chance there; one that scores above chance is reading the answer from somewhere other
than the training labels (test rows or labels reaching the fit, a scoring bug). The refits run in
the cell's Ray task (``search.outer_evaluation``), so they cost no extra scheduling; this module
holds the refit, how many to run, the null distribution they are judged against and the flags.

What a control cannot see: a feature that copies the label, or an example duplicated across the
split. Trained on permuted labels, a model has no way to tell which way round such a feature
points, so its controls scatter on both sides of chance; the leakage audit (``leakage``) finds
both from the data.

How a control decides. On one test fold, predictions that ignore the test labels score around the
null mean of the metric with the null spread of that fold: for AUROC the Mann-Whitney
distribution, which is what permuting the test labels against any untied predictions gives; for
the other metrics the same permutation distribution, simulated with random predictions. Where
the features carry real signal, refits on shuffled labels spread wider than that (a model trained
on noise picks a random direction, which the real labels may follow either way): each fold's
spread is therefore the larger of the null's and the refits' own. The mean excess over the null
mean, divided by its standard error, gives a one-sided p per learner; Holm's step-down correction
across a dataset's learners keeps the chance of any false alarm on a clean dataset at ``ALPHA``.
``refits`` picks enough refits per cell for that standard error to be small at the fold's size.
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
ALPHA = 0.05  # family-wise error over one dataset's learners (Holm)
AUTO = "auto"
# "auto": refits per cell so that one fold's mean control AUROC has this standard error under the
# null. 0.04 gives about 10 refits at 24 test examples and the minimum from about 150 on: enough
# refits to measure their own spread where it matters, few where one fold already decides.
TARGET_SE = 0.04
MIN_REFITS, MAX_REFITS = 2, 20  # 2: a fold's own spread needs two scores; 20: cost cap
NULL_DRAWS = 400  # random predictions per fold for metrics without a closed-form null
COLUMNS = ["dataset", "outer_fold", "learner", "family", "seed", "metric", "value", "chance"]


def shuffled_fits(fit, predict, data, fold, X, config: dict, n: int, cell_seed: int,
                  fit_seed: int, threads: int) -> list[dict]:
    """Refit ``config`` ``n`` times on permuted outer-training labels; score on the real test fold.

    ``fit``/``predict`` are the harness's own (fitting.fit, fitting.predict), so a control goes
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


def auroc_null_var(n_pos: int, n_neg: int) -> float:
    """Variance of AUROC under label permutation with untied scores (Mann-Whitney U / n1 n0)."""
    return (n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)


def refits(setting, task: str, y_test) -> int:
    """Shuffled-label refits for one cell: ``setting`` when it is a number, else ("auto") enough
    that the fold's mean control AUROC has standard error TARGET_SE under the null.

    Small test folds have wide nulls (sd 0.12 at 24 examples): one refit each cannot tell a leak
    from luck, and the refits' own spread, which the decision needs, takes several. Multiclass
    folds are sized by their smallest class against the rest (the widest one-vs-rest null);
    regression by the null sd of a correlation, 1/sqrt(n - 1).
    """
    if setting != AUTO:
        return int(setting)
    y = np.asarray(y_test)
    if task == "regression":
        var = 1.0 / max(len(y) - 1, 1)
    else:
        counts = np.bincount(y.astype(int))
        counts = counts[counts > 0]
        small = int(counts.min()) if len(counts) > 1 else 1
        var = auroc_null_var(small, max(len(y) - small, 1))
    return int(np.clip(np.ceil(var / TARGET_SE**2), MIN_REFITS, MAX_REFITS))


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


def _random_auroc(y: np.ndarray, n_classes: int, draws: int, rng) -> np.ndarray:
    """Macro one-vs-rest AUROC (binary: of class 1) of ``draws`` sets of untied random scores."""
    scores = rng.random((draws, len(y), n_classes))
    ranks = scores.argsort(axis=1).argsort(axis=1) + 1.0
    out = []
    for k in ([1] if n_classes == 2 else range(n_classes)):
        pos = y == k
        n1, n0 = int(pos.sum()), int((~pos).sum())
        if n1 and n0:
            out.append((ranks[:, pos, k].sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0))
    return np.mean(out, axis=0) if out else np.full(draws, np.nan)


def fold_null(task: str, metric: str, y_test, n_classes: int, draws: int = NULL_DRAWS,
              seed: int = 0) -> tuple[float, float]:
    """(mean, variance) of ``metric`` on this test fold for predictions that ignore its labels.

    Binary AUROC: exactly 0.5 and the Mann-Whitney variance. Other classification metrics: the
    permutation distribution simulated with random class probabilities (rows uniform on the
    simplex, so AUROC and AUPRC see no ties). The mean is never below the metric's chance level
    (``chance``): average precision of a random ranking sits above the prevalence on small folds,
    and accuracy's chance (the majority share) is the best a label-blind model can expect.
    Regression: R^2's chance, 0, and no variance (the refits' own spread decides alone).
    """
    y = np.asarray(y_test)
    base = chance(task, metric, y, n_classes)
    if task == "regression":
        return base, 0.0
    if metric == "auroc" and n_classes == 2:
        n1 = int((y == 1).sum())
        return 0.5, auroc_null_var(n1, len(y) - n1) if 0 < n1 < len(y) else 0.0
    rng = np.random.default_rng(seed)
    if metric == "auroc":
        values = _random_auroc(y.astype(int), n_classes, draws, rng)
    else:
        probs = rng.dirichlet(np.ones(n_classes), size=(draws, len(y)))
        values = np.array([_score(task, metric, y, p) for p in probs])
    values = values[np.isfinite(values)]
    if not len(values):
        return base, 0.0
    sign = 1.0 if metrics.higher_is_better(metric) else -1.0
    return float(sign * max(sign * values.mean(), sign * base)), float(values.var(ddof=1))


def _score(task: str, metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    try:
        return metrics.score(task, metric, y, pred)
    except ValueError:  # e.g. a class absent from the fold
        return float("nan")


def excess_test(excess, folds, null_var: dict | None = None) -> dict:
    """One-sided test that the mean excess of control scores over their fold's null mean is > 0.

    ``excess``: one value per control refit, oriented so that positive is better than chance;
    ``folds``: its outer fold; ``null_var``: fold -> variance of one score under the null. Each
    fold's variance is the larger of the null's and the refits' own (sample variance, needs two
    refits); a fold with neither borrows the variance of all scores. The mean over all refits has
    variance sum_f R_f var_f / N^2; p is from Student's t with N - folds degrees of freedom where
    refits measured their own spread, else from the normal.
    """
    e, f = np.asarray(excess, dtype=float), np.asarray(folds)
    n = len(e)
    if not n:
        return {"excess": float("nan"), "se": float("nan"), "p": 1.0, "df": None}
    null_var = null_var or {}
    pooled = float(e.var(ddof=1)) if n >= 2 else 0.0
    total, own = 0.0, False
    labels = np.unique(f)
    for k in labels:
        ek = e[f == k]
        var = max(float(ek.var(ddof=1)) if len(ek) >= 2 else 0.0, float(null_var.get(k, 0.0)))
        own |= len(ek) >= 2
        total += len(ek) * (var if var > 0 else pooled)
    mean = float(e.mean())
    se = float(np.sqrt(total)) / n
    if se == 0:  # identical scores and no null to judge them by: only the sign is left
        return {"excess": mean, "se": 0.0, "p": 0.0 if mean > 0 and n >= 2 else 1.0, "df": None}
    df = float(n - len(labels)) if own and n > len(labels) else np.inf
    return {"excess": mean, "se": se, "p": float(stats.t.sf(mean / se, df)),
            "df": df if np.isfinite(df) else None}  # None: the normal (JSON has no infinity)


def holm(p) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error, any dependence between tests)."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def frame(rows: list[dict]) -> pd.DataFrame:
    """The ``controls.parquet`` table: one row per control refit and metric."""
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(["dataset", "outer_fold", "learner", "seed", "metric"], ignore_index=True)


def summarise(controls: pd.DataFrame, scores: pd.DataFrame, datasets: dict, tolerance: float,
              nulls: dict | None = None, alpha: float = ALPHA) -> list[dict]:
    """Per (dataset, learner): the control scores against their null, and the flag.

    ``nulls`` maps (dataset, outer fold) to ``fold_null`` of the dataset's flag metric; a fold
    without one is centred on the stored chance level and judged by the refits' own spread. A
    learner is flagged when its Holm-adjusted p (over the dataset's learners) is below ``alpha``
    and its mean excess over the null mean is at least ``tolerance``.
    """
    nulls, rows = nulls or {}, []
    for (d, learner), g in controls.groupby(["dataset", "learner"], sort=False):
        info = datasets.get(d, {})
        m = flag_metric(info.get("task", "binary"), info.get("metric", "auroc"))
        c = g[(g["metric"] == m)].dropna(subset=["value"])
        if not len(c):
            continue
        real = scores[(scores["dataset"] == d) & (scores["learner"] == learner)
                      & (scores["config"] == "tuned") & (scores["metric"] == m)]["value"].dropna()
        folds = c["outer_fold"].to_numpy()
        centre = np.array([nulls.get((d, int(k)), (ch, 0.0))[0]
                           for k, ch in zip(folds, c["chance"].to_numpy())])
        var = {int(k): nulls[(d, int(k))][1] for k in np.unique(folds) if (d, int(k)) in nulls}
        sign = 1.0 if metrics.higher_is_better(m) else -1.0
        test = excess_test(sign * (c["value"].to_numpy() - centre), folds, var)
        rows.append({"dataset": d, "learner": learner, "family": g["family"].iloc[0], "metric": m,
                     "chance": float(c["chance"].mean()), "null": float(centre.mean()),
                     "mean": float(c["value"].mean()), "low": float(c["value"].min()),
                     "high": float(c["value"].max()), "n": int(len(c)),
                     "folds": int(len(np.unique(folds))),
                     "real": float(real.mean()) if len(real) else float("nan"), **test})
    for d in {r["dataset"] for r in rows}:
        mine = [r for r in rows if r["dataset"] == d]
        for r, p in zip(mine, holm([r["p"] for r in mine])):
            r["p_holm"] = float(p)
            r["flag"] = bool(p < alpha and r["excess"] >= tolerance)
    return rows
