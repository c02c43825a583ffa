"""The report's statistics, all delegated to :mod:`benchmark.stats`.

Differences are oriented so that a positive number always favours the deep learner, whatever
the metric's direction; intervals and probabilities follow the same orientation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import stats
from . import labels, tables

# Metrics on a fixed [0, 1] (or [-1, 1]) scale share one practical-equivalence margin.
BOUNDED = {"auroc", "auprc", "balanced_accuracy", "mcc", "accuracy", "brier", "r2"}
DEFAULT_ROPE = 0.01
RELATIVE_ROPE = 0.01  # unbounded metrics (RMSE, MAE, log loss): 1 % of the classical score
DECISIVE = 0.95  # posterior mass that settles a question


@dataclass(frozen=True)
class Comparison:
    """Deep learner against classical learner on one dataset, over matched outer folds."""

    dataset: str
    metric: str
    deep: str
    deep_config: str
    classical: str
    classical_config: str
    n_folds: int
    mean: float  # oriented: > 0 means the deep learner scored better
    ci: tuple[float, float]
    p: float
    rope: float
    p_deep: float  # P(deep better by more than the ROPE)
    p_rope: float
    p_classical: float
    deep_seconds: float
    classical_seconds: float

    @property
    def outcome(self) -> str:
        """deep, classical or equivalent when that region holds >= 95 % of the posterior;
        otherwise not_deep when P(deep better) < 0.5, else unclear."""
        for name, p in (("deep", self.p_deep), ("classical", self.p_classical),
                        ("equivalent", self.p_rope)):
            if p >= DECISIVE:
                return name
        return "not_deep" if self.p_deep < 0.5 else "unclear"

    @property
    def cost_ratio(self) -> float:
        """Deep seconds per classical second (inf when the classical learner took no time)."""
        if self.classical_seconds > 0:
            return self.deep_seconds / self.classical_seconds
        return np.inf if self.deep_seconds > 0 else np.nan


@dataclass(frozen=True)
class DatasetVerdict:
    """The equal-budget comparison and its two unequal-tuning counterfactuals."""

    dataset: str
    metric: str
    rope: float
    rope_note: str
    equal: Comparison | None = None
    deep_tuned_vs_classical_default: Comparison | None = None
    deep_default_vs_classical_tuned: Comparison | None = None
    reason: str = ""  # why there is no equal-budget comparison


def rope_for(metric: str, reference: float) -> tuple[float, str]:
    """The region of practical equivalence in the metric's own units, and how it was chosen."""
    name = labels.metric(metric)
    if metric in BOUNDED or not np.isfinite(reference):
        return DEFAULT_ROPE, f"±{DEFAULT_ROPE:g} {name} (the default for metrics on a [0, 1] scale)"
    rope = float(f"{RELATIVE_ROPE * abs(reference):.2g}")
    return rope, f"±{rope:g} {name} (1% of the best classical score, as {name} has no fixed scale)"


def compare(scores: pd.DataFrame, trials: pd.DataFrame, dataset: str, metric: str,
            deep: tuple[str, str], classical: tuple[str, str], ratio: float,
            rope: float) -> Comparison | str:
    """Corrected t-test and Bayesian correlated t-test on oriented fold differences.

    ``deep`` and ``classical`` are (learner, config).  Returns a sentence instead when
    fewer than two outer folds have both scores (no variance, no test).
    """
    a = tables.fold_values(scores, dataset, *deep, metric)
    b = tables.fold_values(scores, dataset, *classical, metric)
    a, b = a.align(b, join="inner")
    if len(a) < 2:
        plural = "s" if len(a) != 1 else ""
        return f"only {len(a)} outer fold{plural} scored both learners; a test needs 2"
    d = tables.orient(metric) * (a.to_numpy() - b.to_numpy())
    t = stats.corrected_ttest(d, ratio)
    bayes = stats.bayesian_correlated_ttest(d, ratio, rope)
    secs = trials[trials["dataset"] == dataset].groupby("learner")["seconds"].sum()
    return Comparison(dataset, metric, deep[0], deep[1], classical[0], classical[1], len(d),
                      t.mean, t.ci, t.p, rope, bayes.p_right, bayes.p_rope, bayes.p_left,
                      float(secs.get(deep[0], 0.0)), float(secs.get(classical[0], 0.0)))


def dataset_verdict(scores: pd.DataFrame, trials: pd.DataFrame, summary: pd.DataFrame,
                    dataset: str, metric: str, ratio: float) -> DatasetVerdict:
    """Best tuned deep against best tuned classical, plus the two unequal-tuning comparisons.

    ``summary`` is :func:`tables.score_summary` on the primary metric, both configs.
    """
    best = tables.best_learners(summary[summary["dataset"] == dataset])
    pick = {(r.config, r.family): r for r in best.itertuples()}
    ref = pick.get(("tuned", "classical"))
    rope, note = rope_for(metric, ref.mean if ref is not None else np.nan)
    missing = _missing_family(summary[summary["dataset"] == dataset])
    if missing:
        return DatasetVerdict(dataset, metric, rope, note, reason=missing)
    out = {}
    for key, dcfg, ccfg in (("equal", "tuned", "tuned"),
                            ("deep_tuned_vs_classical_default", "tuned", "default"),
                            ("deep_default_vs_classical_tuned", "default", "tuned")):
        d, c = pick.get((dcfg, "deep")), pick.get((ccfg, "classical"))
        if d is not None and c is not None:
            res = compare(scores, trials, dataset, metric, (d.learner, dcfg), (c.learner, ccfg),
                          ratio, rope)
            out[key] = res if isinstance(res, Comparison) else None
            if key == "equal" and isinstance(res, str):
                return DatasetVerdict(dataset, metric, rope, note, reason=res)
    if out.get("equal") is None:
        return DatasetVerdict(dataset, metric, rope, note, **out, reason=_no_score_reason(
            summary[summary["dataset"] == dataset]))
    return DatasetVerdict(dataset, metric, rope, note, **out)


def _missing_family(summary: pd.DataFrame) -> str:
    fams = set(summary["family"])
    if "deep" not in fams:
        return "only classical learners ran, so there is no deep learner to weigh"
    if "classical" not in fams:
        return "only deep learners ran, so there is no classical baseline to weigh them against"
    return ""


def _no_score_reason(summary: pd.DataFrame) -> str:
    tuned = summary[summary["config"] == "tuned"]
    for fam in ("deep", "classical"):
        if not tuned[(tuned["family"] == fam) & tuned["scored"]].shape[0]:
            names = ", ".join(sorted(tuned.loc[tuned["family"] == fam, "learner"]))
            return f"no {fam} learner ({names}) has a tuned score on every outer fold"
    return "the scores could not be compared"


@dataclass(frozen=True, eq=False)
class Across:
    """Ranks and tests over datasets (Demsar 2006), or the reason they were omitted."""

    table: pd.DataFrame
    dropped_datasets: list[str] = field(default_factory=list)
    dropped_learners: list[str] = field(default_factory=list)
    friedman: stats.FriedmanResult | None = None
    cd: float = np.nan
    ranks: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None
    reason: str = ""


def across_datasets(tuned: pd.DataFrame, alpha: float = 0.05) -> Across:
    """Friedman/Iman-Davenport, Nemenyi CD and Wilcoxon-Holm on the complete sub-table."""
    table, rows, cols = tables.across_table(tuned)
    if table.shape[0] < 2 or table.shape[1] < 2:
        n_ds = tuned["dataset"].nunique()
        why = (f"only {n_ds} dataset{'s' if n_ds != 1 else ''} in this run" if n_ds < 2 else
               "fewer than 2 datasets share at least 2 learners scored on every outer fold")
        return Across(table, rows, cols, reason=f"Omitted: {why}; ranks across datasets need both.")
    try:
        fr = stats.friedman(table)
        pairs = stats.wilcoxon_holm(table, alpha=alpha)
        cd = stats.nemenyi_cd(table.shape[1], table.shape[0], alpha)
    except ValueError as exc:
        return Across(table, rows, cols, reason=f"Omitted: {exc}.")
    ranks = table.rank(axis=1, ascending=False, method="average")
    return Across(table, rows, cols, fr, cd, ranks, pairs)


def validation_curves(trials: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Expected best inner-validation score after n trials (Dodge et al. 2019), per learner.

    Computed per outer fold from the complete trials (default kept first when it
    succeeded), then averaged over folds up to the shortest fold's count, so every point
    is an average over the same folds.
    """
    lower = tables.orient(metric) < 0
    out = []
    for learner, grp in trials[trials["state"] == "COMPLETE"].groupby("learner"):
        per_fold = []
        for _, g in grp.sort_values("trial").groupby("outer_fold"):
            v = g["value"].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            if v.size == 1:
                per_fold.append(pd.DataFrame({"n": [1], "expected_max": v, "band_low": v,
                                              "band_high": v}))
            elif v.size > 1:
                per_fold.append(stats.budget_curve(v, default_first=bool((g["trial"] == 0).any()),
                                                   lower_is_better=lower))
        if per_fold:
            n = min(len(c) for c in per_fold)
            mean = sum(c.iloc[:n][["expected_max", "band_low", "band_high"]].to_numpy()
                       for c in per_fold) / len(per_fold)
            out.append(pd.DataFrame({"learner": learner, "n": np.arange(1, n + 1),
                                     "expected": mean[:, 0], "low": mean[:, 1], "high": mean[:, 2]}))
    cols = ["learner", "n", "expected", "low", "high"]
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=cols)
