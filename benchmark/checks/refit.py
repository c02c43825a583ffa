"""Second-phase refits: the best classical and the best deep tuned configurations, per outer fold.

Which learners are best is known only once every cell has finished, so these refits run after
the cells, one job per (dataset, model, outer fold). A job refits the tuned configuration on the
outer training part with the cell's own seed (so it reproduces the cell's model), then reuses
that one model for permutation importance and for the test predictions the failure analysis
needs; it also refits on a random split of the same size (grouped datasets) and on subsets of
the training part (learning curve, when asked). Predictions go back to the caller, in memory.
"""
from __future__ import annotations

import contextlib
import time
import traceback
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .. import fitting, learners, metrics
from ..seeding import derive_seed
from . import batch, importance, size


@dataclass(frozen=True)
class FoldJob:
    dataset: str
    role: str  # "classical" | "deep"
    learner: str
    fold_index: int
    fold: object  # splits.Fold
    data: object  # data.dataset.Dataset
    config: dict  # the cell's tuned configuration (deep: with the refit epoch count)
    metric: str
    seed: int  # the study seed
    settings: dict  # study.checks as a dict
    grouped: bool
    threads: int = 1  # the study's cpus_per_trial, as the cell's own refit used

    @property
    def cell_seed(self) -> int:
        return derive_seed(self.seed, self.dataset, self.fold_index, self.learner)


def best_learners(scores: pd.DataFrame, dataset: str, metric: str) -> dict[str, str]:
    """Per family, the learner with the best mean tuned primary score over the outer folds,
    among learners scored on every fold (the report's verdict picks the same way)."""
    s = scores[(scores["dataset"] == dataset) & (scores["config"] == "tuned")
               & (scores["metric"] == metric)]
    n_folds = s["outer_fold"].nunique()
    sign = 1.0 if metrics.higher_is_better(metric) else -1.0
    out = {}
    for family, g in s.groupby("family"):
        ok = g.dropna(subset=["value"]).groupby("learner")["value"].agg(["mean", "count"])
        ok = ok[ok["count"] == n_folds]
        if len(ok):
            out[family] = str((ok["mean"] * sign).idxmax())
    return out


def tuned_configs(store) -> dict[tuple[str, int, str], dict]:
    """(dataset, outer fold, learner) -> the tuned configuration the cell refit and scored."""
    out = {}
    for outer in store.outer_evaluations():
        tuned, cell = outer.tuned, outer.cell
        if tuned is not None and not tuned.error:
            out[(cell.dataset, cell.fold, cell.learner)] = dict(tuned.config)
    return out


@contextlib.contextmanager
def one_thread():
    """One BLAS/OpenMP thread: jobs run side by side, one per CPU (torch: set by the learner)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _fit_predict(job: FoldJob, train: np.ndarray, test: np.ndarray):
    """The job's configuration fitted on ``train`` with the cell's outer seed: its predict
    function, the array it reads and its predictions for ``test``."""
    module = learners.get(job.learner)
    X = fitting.features(module, job.config, job.data)
    model = fitting.fit(module, job.config, job.data, train, derive_seed(job.cell_seed, "outer"),
                        job.threads)
    predict = lambda Xt: fitting.predict(model, Xt, job.data.task, job.data.n_classes)  # noqa: E731
    return predict, X, predict(X[test])


def _score(job: FoldJob, test: np.ndarray, pred: np.ndarray) -> float:
    return fitting.score(job.data, job.metric, test, pred)


def run(job: FoldJob) -> dict:
    """Everything one (dataset, model, fold) contributes; errors are returned, not raised."""
    t0 = time.perf_counter()
    out = _result(job)
    try:
        predict, X, pred = _fit_predict(job, job.fold.train, job.fold.test)
        out["pred"], out["score"] = pred, _score(job, job.fold.test, pred)
        if job.settings["importance"]:
            out["importance"] = _importance(job, predict, X)
        if job.grouped and job.settings["random_split"]:
            out["random"] = _random_split(job, out["score"])
        if job.settings["learning_curve"]:
            out["curve"] = _curve(job, out["score"])
    except Exception as exc:  # one failed refit must not hide the other checks
        out["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=2)}"
    out["seconds"] = time.perf_counter() - t0
    return out


def run_on(job: FoldJob, data) -> dict:
    """``run`` for a job sent without its dataset (which travels once, on its own)."""
    return run(replace(job, data=data))


def lost(job: FoldJob, exc: Exception) -> dict:
    """What ``run`` returns for a job whose process kept dying."""
    return {**_result(job), "seconds": 0.0,
            "error": f"the process running it died: {type(exc).__name__}: {str(exc)[:500]}"}


def _result(job: FoldJob) -> dict:
    """A job's result before anything is computed."""
    return {"dataset": job.dataset, "role": job.role, "learner": job.learner,
            "fold": job.fold_index, "rows": job.fold.test, "pred": None, "importance": [],
            "random": None, "curve": [], "error": None}


def _importance(job: FoldJob, predict, X: np.ndarray) -> list[dict]:
    d, fold, s = job.data, job.fold, job.settings
    cols = importance.candidates(X[fold.train], d.y[fold.train], d.task, d.n_classes,
                                 s["importance_features"])
    seed = derive_seed(job.cell_seed, "importance")
    test = fold.test[importance.test_rows(d.y[fold.test], seed, d.task)]
    mean, sd = importance.importances(predict, X[test], d.y[test], cols, d.task, job.metric,
                                      s["importance_repeats"], seed)
    view = fitting.view_name(learners.get(job.learner), job.config, d)
    names = _names(d, view, d.views[view].shape[1:])
    return [{"dataset": job.dataset, "role": job.role, "learner": job.learner, "view": view,
             "outer_fold": job.fold_index, "feature": names(j), "importance": float(m),
             "sd": float(v)} for j, m, v in zip(cols, mean, sd)]


def _names(data, view: str, shape: tuple):
    """Feature names; an image's pixels take the names of the flat pixels classical learners see
    (the same values in the same order), so the two models' importances can be matched."""
    same = int(np.prod(shape)) == len(data.feature_names) and data.modality == "image"
    if view == "tabular" or same:
        return lambda j: data.feature_names[j]
    if len(shape) == 1:
        return lambda j: f"{view}[{j}]"
    return lambda j: f"{view}[{','.join(str(int(i)) for i in np.unravel_index(j, shape))}]"


def _random_split(job: FoldJob, grouped: float) -> dict:
    """The same configuration on a random stratified split with as many test examples."""
    d = job.data
    train, test = batch.random_split(d.y, len(job.fold.test),
                                     derive_seed(job.seed, job.dataset, "random_split", job.fold_index),
                                     stratify=d.task != "regression")
    _, _, pred = _fit_predict(job, train, test)
    random = _score(job, test, pred)
    sign = 1.0 if metrics.higher_is_better(job.metric) else -1.0
    return {"grouped": grouped, "random": random, "gap": sign * (random - grouped),
            "n_test": len(test), "n_train": len(train)}


def _curve(job: FoldJob, full: float) -> list[dict]:
    d, rows = job.data, []
    for fraction in size.FRACTIONS:
        if fraction < 1.0:
            seed = derive_seed(job.seed, job.dataset, "curve", job.fold_index, fraction)
            train = size.subsample(job.fold.train, d.y, fraction, seed, d.task != "regression")
            _, _, pred = _fit_predict(job, train, job.fold.test)
            value = _score(job, job.fold.test, pred)
        else:
            train, value = job.fold.train, full
        rows.append({"dataset": job.dataset, "role": job.role, "learner": job.learner,
                     "outer_fold": job.fold_index, "fraction": fraction, "n_train": len(train),
                     "metric": job.metric, "value": float(value)})
    return rows
