"""Summaries from the run's long tables: pure pandas, no statistics, no plotting.

Every function takes plain frames (and small dicts) so it can be checked on a hand-made table.
Failed fits and failed trials stay visible as counts and errors; they are never averaged in.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import learners, metrics

KEYS = ["dataset", "learner", "family", "config"]


def orient(metric: str) -> float:
    """+1 when higher is better, -1 otherwise: multiplying by it makes "bigger" mean "better"."""
    try:
        return 1.0 if metrics.higher_is_better(metric) else -1.0
    except KeyError:
        return 1.0


def orientation(metrics: pd.Series) -> pd.Series:
    """:func:`orient` for a column of metric names, as floats even when the column is empty."""
    return metrics.map(orient).astype(float)


def family_of(learner: str) -> str:
    return "deep" if learner in learners.DEEP else "classical"


def budget_table(trials: pd.DataFrame, fixed: set[tuple[str, str]] = frozenset()) -> pd.DataFrame:
    """Trials complete and failed, and seconds, per dataset and learner.

    ``equal`` is False for every row of a dataset whose learners ran different numbers of
    trials (the comparison is then not equal-budget); ``short`` marks the learners below the
    dataset's largest count, so the reader sees who got less. ``fixed`` holds the (dataset,
    learner) pairs with no hyper-parameters (the manifest's ``no_hyperparameters``): they run
    trial 0 alone by design, marked ``fixed``, and neither count as short nor make a budget
    unequal.
    """
    cols = ["dataset", "learner", "family", "folds", "trials", "complete", "failed", "seconds",
            "top_error", "equal", "short", "fixed"]
    if trials.empty:
        return pd.DataFrame(columns=cols)
    t = trials.assign(ok=trials["state"].eq("COMPLETE"), bad=trials["state"].ne("COMPLETE"))
    out = t.groupby(["dataset", "learner", "family"], sort=False).agg(
        folds=("outer_fold", "nunique"), trials=("trial", "size"), complete=("ok", "sum"),
        failed=("bad", "sum"), seconds=("seconds", "sum")).reset_index()
    out["top_error"] = [_top_error(t, d, l) for d, l in zip(out["dataset"], out["learner"])]
    out["fixed"] = [(d, l) in fixed for d, l in zip(out["dataset"], out["learner"])]
    tuned = out["trials"].where(~out["fixed"])  # NaN: left out of the comparison of counts
    most = tuned.groupby(out["dataset"]).transform("max")
    out["equal"] = tuned.groupby(out["dataset"]).transform("nunique").le(1)
    out["short"] = tuned < most
    out[["complete", "failed", "trials"]] = out[["complete", "failed", "trials"]].astype(int)
    return out[cols]


def _top_error(trials: pd.DataFrame, dataset: str, learner: str) -> str:
    """The most frequent error message of a learner's failed trials, first line only."""
    errs = trials.loc[(trials["dataset"] == dataset) & (trials["learner"] == learner)
                      & trials["bad"], "error"].dropna().astype(str)
    if not len(errs):
        return ""
    top = errs.str.split("\n").str[0].value_counts().index[0]
    return top if len(top) <= 160 else top[:157] + "..."


def folds_per_dataset(scores: pd.DataFrame, trials: pd.DataFrame | None = None) -> dict[str, int]:
    """Outer folds each dataset was split into, seen in either table."""
    frames = [scores] + ([trials] if trials is not None else [])
    both = pd.concat([f[["dataset", "outer_fold"]] for f in frames])
    return both.groupby("dataset")["outer_fold"].nunique().to_dict()


def score_summary(scores: pd.DataFrame, metric: dict[str, str] | None = None,
                  n_folds: dict[str, int] | None = None) -> pd.DataFrame:
    """Mean and sd over outer folds per dataset, learner, config and metric.

    With ``metric`` ({dataset: metric}) only that metric is kept, and learner-configs that
    have no row for it (their outer fit failed) still appear with n_scored = 0.  ``scored``
    is True only when every outer fold has a finite value: a mean over the folds that
    happened to succeed would flatter a fragile learner.
    """
    n_folds = n_folds or folds_per_dataset(scores)
    s = scores if metric is None else scores[scores["metric"] == scores["dataset"].map(metric)]
    stats = s.groupby(KEYS + ["metric"], sort=False)["value"].agg(
        mean="mean", sd="std", n_scored="count").reset_index()
    if metric is not None:
        base = scores[KEYS].drop_duplicates()
        base["metric"] = base["dataset"].map(metric)
        stats = base.merge(stats, on=KEYS + ["metric"], how="left")
        stats["n_scored"] = stats["n_scored"].fillna(0).astype(int)
    stats["n_folds"] = stats["dataset"].map(n_folds).astype(int)
    stats["scored"] = stats["n_scored"].eq(stats["n_folds"])
    errors = scores.dropna(subset=["error"]).groupby(KEYS)["error"].first()
    stats["error"] = [str(errors.get(tuple(k), "")).split("\n")[0]
                      for k in stats[KEYS].itertuples(index=False)]
    return stats.sort_values(["dataset", "config", "family", "learner"], ignore_index=True)


def best_learners(summary: pd.DataFrame) -> pd.DataFrame:
    """The best learner per dataset, config and family: highest mean primary metric (oriented),
    among learners scored on every outer fold; ties go to the alphabetically first."""
    ok = summary[summary["scored"]].copy()
    ok["oriented"] = ok["mean"] * orientation(ok["metric"])
    ok = ok.sort_values(["dataset", "config", "family", "oriented", "learner"],
                        ascending=[True, True, True, False, True])
    return ok.groupby(["dataset", "config", "family"], sort=False).head(1).drop(columns="oriented")


def fold_values(scores: pd.DataFrame, dataset: str, learner: str, config: str,
                metric: str) -> pd.Series:
    """One learner's outer-fold scores, indexed by fold (failed folds absent)."""
    rows = scores[(scores["dataset"] == dataset) & (scores["learner"] == learner)
                  & (scores["config"] == config) & (scores["metric"] == metric)]
    return rows.set_index("outer_fold")["value"].dropna().sort_index()


def default_vs_tuned(summary: pd.DataFrame) -> pd.DataFrame:
    """Default and tuned means side by side; ``gain`` > 0 means tuning helped (any metric)."""
    keys = ["dataset", "learner", "family", "metric"]
    wide = summary.set_index(keys + ["config"])[["mean", "sd", "scored"]].unstack("config")
    wide.columns = [f"{cfg}_{stat}" for stat, cfg in wide.columns]
    out = wide.reset_index()
    for col in ("default_mean", "tuned_mean", "default_sd", "tuned_sd"):
        if col not in out:
            out[col] = np.nan
    both = pd.Series(True, index=out.index)
    for cfg in ("default", "tuned"):
        both &= out[f"{cfg}_scored"].eq(True) if f"{cfg}_scored" in out else False
    gain = (out["tuned_mean"] - out["default_mean"]) * orientation(out["metric"])
    out["gain"] = gain.where(both)  # a partial mean is not a comparable score
    return out


def tuned_representations(scores: pd.DataFrame, trials: pd.DataFrame) -> dict[tuple[str, str], dict]:
    """(dataset, learner) -> {representation: folds} of the tuned configurations, read from the
    tuned trial's configuration; learners that read one fixed view are absent."""
    import json

    tuned = scores[scores["config"] == "tuned"].drop_duplicates(["dataset", "outer_fold", "learner"])
    configs = trials.set_index(["dataset", "outer_fold", "learner", "trial"])["config"]
    configs = configs[~configs.index.duplicated()]
    out: dict[tuple[str, str], dict] = {}
    for r in tuned.itertuples():
        raw = configs.get((r.dataset, r.outer_fold, r.learner, r.trial)) if pd.notna(r.trial) else None
        rep = json.loads(raw).get("representation") if isinstance(raw, str) else None
        if rep:
            counts = out.setdefault((r.dataset, r.learner), {})
            counts[rep] = counts.get(rep, 0) + 1
    return out


def metric_panel(scores: pd.DataFrame, dataset: str, config: str = "tuned") -> pd.DataFrame:
    """Every metric of every learner on one dataset: mean and sd over folds, long format."""
    s = scores[(scores["dataset"] == dataset) & (scores["config"] == config)
               & scores["metric"].ne("(none)")]
    return s.groupby(["learner", "family", "metric"], sort=False)["value"].agg(
        mean="mean", sd="std", n_scored="count").reset_index()


def cost_table(trials: pd.DataFrame, fits: pd.DataFrame, tuned: pd.DataFrame) -> pd.DataFrame:
    """Seconds spent per learner (tuning trials plus outer refits) against its tuned score.

    ``fits`` has one row per outer fit (dataset, outer_fold, learner, config, fit_seconds).
    ``pareto`` marks learners no other learner beats on both cost and score.
    """
    tune = trials.groupby(["dataset", "learner"])["seconds"].sum().rename("tune_seconds")
    refit = fits.groupby(["dataset", "learner"])["fit_seconds"].sum().rename("refit_seconds")
    out = tuned[["dataset", "learner", "family", "metric", "mean", "scored"]].rename(
        columns={"mean": "score"}).join(tune, on=["dataset", "learner"]).join(
        refit, on=["dataset", "learner"])
    out[["tune_seconds", "refit_seconds"]] = out[["tune_seconds", "refit_seconds"]].fillna(0.0)
    out["seconds"] = out["tune_seconds"] + out["refit_seconds"]
    out["pareto"] = False
    for _, grp in out[out["scored"]].groupby("dataset"):
        good = grp["score"] * orientation(grp["metric"])
        for i in grp.index:
            dominated = ((grp["seconds"] <= grp.at[i, "seconds"]) & (good >= good[i])
                         & ((grp["seconds"] < grp.at[i, "seconds"]) | (good > good[i])))
            out.at[i, "pareto"] = not dominated.any()
    return out.reset_index(drop=True)


def across_table(tuned: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Dataset x learner table of tuned primary scores, oriented so that higher is better.

    Friedman and Wilcoxon need a complete table; cells are missing when a learner was
    skipped or failed.  The row or column with most gaps is dropped until none remain, and
    the dropped names are returned so the page can say what was left out.
    """
    ok = tuned[tuned["scored"]]
    table = ok.assign(v=ok["mean"] * orientation(ok["metric"])).pivot_table(
        index="dataset", columns="learner", values="v", aggfunc="first")
    table = table.reindex(index=sorted(tuned["dataset"].unique()),
                          columns=sorted(tuned["learner"].unique()))
    dropped_rows, dropped_cols = [], []
    while table.size and table.isna().any().any():
        rows, cols = table.isna().sum(axis=1), table.isna().sum(axis=0)
        if rows.max() / max(table.shape[1], 1) >= cols.max() / max(table.shape[0], 1):
            dropped_rows.append(rows.idxmax())
            table = table.drop(index=rows.idxmax())
        else:
            dropped_cols.append(cols.idxmax())
            table = table.drop(columns=cols.idxmax())
    return table, dropped_rows, dropped_cols


def outer_curve(curves: pd.DataFrame, n_trials: dict[str, int]) -> pd.DataFrame:
    """Outer test score of the best-so-far configuration after n trials, averaged over folds.

    ``curves`` holds one dataset and metric; a row is where a configuration became the
    incumbent, so the score is carried forward until the next one.  The mean is only
    given where every fold already had an incumbent (a failed default leaves early gaps).
    """
    rows = []
    for learner, grp in curves.groupby("learner"):
        n_max = int(n_trials.get(learner, grp["trial"].max() + 1))
        grid = pd.RangeIndex(n_max)
        per_fold = [g.drop_duplicates("trial", keep="last").set_index("trial")["value"]
                    .reindex(grid, method="ffill")
                    for _, g in grp.sort_values("trial").groupby("outer_fold")]
        mean = pd.concat(per_fold, axis=1).mean(axis=1, skipna=False)
        rows.append(pd.DataFrame({"learner": learner, "n": grid + 1, "value": mean.to_numpy()}))
    empty = pd.DataFrame(columns=["learner", "n", "value"])
    return pd.concat(rows, ignore_index=True) if rows else empty


def pairs_table(manifest: dict, trials: pd.DataFrame) -> pd.DataFrame:
    """Which (dataset, learner) pairs ran and which were skipped, and why."""
    ran = {tuple(p) for p in manifest.get("pairs", [])} or set(
        map(tuple, trials[["dataset", "learner"]].drop_duplicates().to_numpy()))
    rows = [dict(dataset=d, learner=l, family=family_of(l), status="ran", reason="") for d, l in ran]
    rows += [dict(dataset=d, learner=l, family=family_of(l), status="skipped", reason=r)
             for d, l, r in manifest.get("skipped", [])]
    return pd.DataFrame(rows, columns=["dataset", "learner", "family", "status", "reason"]).sort_values(
        ["dataset", "status", "family", "learner"], ignore_index=True)
