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
DECISIVE = 0.95  # posterior mass that settles a question, for either side alike


OUTCOMES = {"right": "deep", "left": "classical", "rope": "equivalent", "undecided": "undecided"}


@dataclass(frozen=True)
class Comparison:
    """Deep against classical on one dataset, over matched outer folds.

    For the verdict both sides are families chosen like AutoML systems: in each outer fold each
    family picks its learner and configuration by inner-validation score only (``*_picks`` say
    how often each learner was picked); ``deep``/``classical`` then name the most frequent pick.
    For a per-learner pair they are single learners.
    """

    dataset: str
    metric: str
    deep: str
    deep_config: str
    classical: str
    classical_config: str
    n_folds: int
    mean: float  # oriented: > 0 means the deep side scored better
    ci: tuple[float, float]
    p: float
    rope: float
    p_deep: float  # P(deep better by more than the ROPE)
    p_rope: float
    p_classical: float
    deep_seconds: float
    classical_seconds: float
    deep_picks: tuple[tuple[str, int], ...] = ()
    classical_picks: tuple[tuple[str, int], ...] = ()
    differences: tuple[float, ...] = ()  # oriented, one per outer fold
    ratio: float = np.nan  # n_test / n_train of the correction

    @property
    def outcome(self) -> str:
        """deep, classical or equivalent when that region holds >= 95 % of the posterior;
        otherwise undecided. The rule is symmetric: each side needs the same evidence."""
        bayes = stats.BayesResult(self.p_classical, self.p_rope, self.p_deep, self.mean, 0.0,
                                  self.n_folds - 1)
        return OUTCOMES[stats.decide(bayes, DECISIVE)]

    @property
    def cost_ratio(self) -> float:
        """Deep seconds per classical second (inf when the classical side took no time)."""
        if self.classical_seconds > 0:
            return self.deep_seconds / self.classical_seconds
        return np.inf if self.deep_seconds > 0 else np.nan


@dataclass(frozen=True, eq=False)
class DatasetVerdict:
    """The equal-budget family comparison, its two unequal-tuning counterfactuals, and every
    deep-classical learner pair (Holm-corrected)."""

    dataset: str
    metric: str
    rope: float
    rope_note: str
    equal: Comparison | None = None
    deep_tuned_vs_classical_default: Comparison | None = None
    deep_default_vs_classical_tuned: Comparison | None = None
    reason: str = ""  # why there is no equal-budget comparison
    pairs: pd.DataFrame | None = None


def rope_for(metric: str, reference: float) -> tuple[float, str]:
    """The region of practical equivalence in the metric's own units, and how it was chosen."""
    name = labels.metric(metric)
    if metric in BOUNDED or not np.isfinite(reference):
        return DEFAULT_ROPE, f"±{DEFAULT_ROPE:g} {name} (the default for metrics on a [0, 1] scale)"
    rope = float(f"{RELATIVE_ROPE * abs(reference):.2g}")
    return rope, f"±{rope:g} {name} (1% of the classical family's score, as {name} has no fixed scale)"


def family_folds(scores: pd.DataFrame, trials: pd.DataFrame, dataset: str, metric: str,
                 family: str, config: str) -> pd.DataFrame:
    """Per outer fold, the learner the family picks and that pick's outer test score.

    The pick is the learner whose ``config`` (default: trial 0; tuned: the best trial) has the
    best inner-validation score (:func:`stats.nested_selection`); the outer test folds play no
    part in it. A learner whose outer refit failed on a fold is not available there, as an
    AutoML system falls back to its next candidate when a refit crashes.
    """
    s = scores[(scores["dataset"] == dataset) & (scores["config"] == config)
               & (scores["family"] == family) & (scores["metric"] == metric)]
    folds = sorted(set(scores.loc[scores["dataset"] == dataset, "outer_fold"]))
    if s.empty:
        return pd.DataFrame({"pick": None, "test": np.nan}, index=pd.Index(folds, name="outer_fold"))
    test = s.pivot_table(index="outer_fold", columns="learner", values="value", aggfunc="first")
    number = s.pivot_table(index="outer_fold", columns="learner", values="trial", aggfunc="first")
    t = trials[(trials["dataset"] == dataset) & (trials["state"] == "COMPLETE")]
    value = t.set_index(["outer_fold", "learner", "trial"])["value"]
    value = value[~value.index.duplicated()]
    val = pd.DataFrame([[value.get((f, l, n), np.nan) if pd.notna(n) else np.nan
                         for l, n in row.items()] for f, row in number.iterrows()],
                       index=number.index, columns=number.columns, dtype=float)
    test, val = test.reindex(index=folds, columns=number.columns), val.reindex(index=folds)
    val = val.astype(float).where(np.isfinite(test.astype(float)))
    return stats.nested_selection(val, test, lower_is_better=tables.orient(metric) < 0)


def _picks(series: pd.Series) -> tuple[tuple[str, int], ...]:
    counts = series.dropna().value_counts()
    return tuple(sorted(((str(k), int(v)) for k, v in counts.items()), key=lambda kv: (-kv[1], kv[0])))


def _test(dataset, metric, a: pd.Series, b: pd.Series, ratio: float, rope: float, seconds,
          names, configs, picks=((), ())) -> Comparison | str:
    """Corrected t-test and Bayesian correlated t-test on the oriented differences a - b."""
    a, b = a.dropna().align(b.dropna(), join="inner")
    if len(a) < 2:
        plural = "s" if len(a) != 1 else ""
        return f"only {len(a)} outer fold{plural} scored both sides; a test needs 2"
    d = tables.orient(metric) * (a.to_numpy(dtype=float) - b.to_numpy(dtype=float))
    t = stats.corrected_ttest(d, ratio)
    bayes = stats.bayesian_correlated_ttest(d, ratio, rope)
    return Comparison(dataset, metric, names[0], configs[0], names[1], configs[1], len(d), t.mean,
                      t.ci, t.p, rope, bayes.p_right, bayes.p_rope, bayes.p_left, *seconds, *picks,
                      tuple(float(x) for x in d), float(ratio))


def compare_families(scores: pd.DataFrame, trials: pd.DataFrame, dataset: str, metric: str,
                     deep_config: str, classical_config: str, ratio: float,
                     rope: float) -> Comparison | str:
    """The deep family against the classical family, each chosen per fold by validation."""
    deep = family_folds(scores, trials, dataset, metric, "deep", deep_config)
    cls = family_folds(scores, trials, dataset, metric, "classical", classical_config)
    for name, side in (("deep", deep), ("classical", cls)):
        lost = side.index[side["test"].isna()].tolist()
        if lost:  # dropping those folds would flatter a fragile family
            folds = ", ".join(str(k) for k in lost)
            return (f"the {name} family has no outer test score on fold{'s' if len(lost) > 1 else ''} "
                    f"{folds} (no {name} learner's {deep_config if name == 'deep' else classical_config} "
                    "refit succeeded there)")
    secs = trials[trials["dataset"] == dataset].groupby("family")["seconds"].sum()
    dp, cp = _picks(deep["pick"]), _picks(cls["pick"])
    return _test(dataset, metric, deep["test"], cls["test"], ratio, rope,
                 (float(secs.get("deep", 0.0)), float(secs.get("classical", 0.0))),
                 (dp[0][0] if dp else "", cp[0][0] if cp else ""), (deep_config, classical_config),
                 (dp, cp))


def learner_pairs(scores: pd.DataFrame, trials: pd.DataFrame, dataset: str, metric: str,
                  ratio: float, rope: float) -> pd.DataFrame:
    """Every tuned deep learner against every tuned classical learner, never a maximum:
    corrected t-test p-values Holm-adjusted over all pairs of the dataset."""
    cols = ["deep", "classical", "n_folds", "mean", "ci_low", "ci_high", "p", "p_holm", "p_deep",
            "p_rope", "p_classical", "outcome"]
    tuned = scores[(scores["dataset"] == dataset) & (scores["config"] == "tuned")
                   & (scores["metric"] == metric)]
    secs = trials[trials["dataset"] == dataset].groupby("learner")["seconds"].sum()
    rows = []
    names = sorted(set(tuned["learner"]))
    for dl in [n for n in names if tables.family_of(n) == "deep"]:
        for cl in [n for n in names if tables.family_of(n) == "classical"]:
            c = _test(dataset, metric, tables.fold_values(scores, dataset, dl, "tuned", metric),
                      tables.fold_values(scores, dataset, cl, "tuned", metric), ratio, rope,
                      (float(secs.get(dl, 0.0)), float(secs.get(cl, 0.0))), (dl, cl),
                      ("tuned", "tuned"))
            if isinstance(c, Comparison):
                rows.append([dl, cl, c.n_folds, c.mean, *c.ci, c.p, np.nan, c.p_deep, c.p_rope,
                             c.p_classical, c.outcome])
    out = pd.DataFrame(rows, columns=cols)
    if len(out):
        out["p_holm"] = stats.holm(out["p"])
    return out


def dataset_verdict(scores: pd.DataFrame, trials: pd.DataFrame, summary: pd.DataFrame,
                    dataset: str, metric: str, ratio: float) -> DatasetVerdict:
    """Deep family against classical family (both tuned), the two unequal-tuning comparisons
    (one family at its defaults) and all learner pairs.

    ``summary`` is :func:`tables.score_summary` on the primary metric, both configs; it only
    decides whether both families ran and sets the ROPE of unbounded metrics.
    """
    here = summary[summary["dataset"] == dataset]
    ref = here[(here["config"] == "tuned") & (here["family"] == "classical") & here["scored"]]
    best = (ref["mean"] * tables.orientation(ref["metric"])).max() if len(ref) else np.nan
    rope, note = rope_for(metric, abs(best) if np.isfinite(best) else np.nan)
    missing = _missing_family(here)
    if missing:
        return DatasetVerdict(dataset, metric, rope, note, reason=missing)
    out = {}
    for key, dcfg, ccfg in (("equal", "tuned", "tuned"),
                            ("deep_tuned_vs_classical_default", "tuned", "default"),
                            ("deep_default_vs_classical_tuned", "default", "tuned")):
        res = compare_families(scores, trials, dataset, metric, dcfg, ccfg, ratio, rope)
        if key == "equal" and isinstance(res, str):
            return DatasetVerdict(dataset, metric, rope, note, reason=res)
        out[key] = res if isinstance(res, Comparison) else None
    pairs = learner_pairs(scores, trials, dataset, metric, ratio, rope)
    return DatasetVerdict(dataset, metric, rope, note, **out, pairs=pairs)


def _missing_family(summary: pd.DataFrame) -> str:
    fams = set(summary["family"])
    if "deep" not in fams:
        return "only classical learners ran, so there is no deep learner to weigh"
    if "classical" not in fams:
        return "only deep learners ran, so there is no classical baseline to weigh them against"
    return ""


@dataclass(frozen=True, eq=False)
class VerdictSummary:
    """The family verdicts over datasets (:func:`stats.family_summary`): outcome counts, Holm
    over datasets, and the Bayesian signed-rank test on the datasets' mean differences."""

    counts: dict[str, int]
    table: pd.DataFrame  # dataset, mean, p, p_holm, decision
    signed_rank: stats.SignedRankResult | None
    rope: float
    note: str = ""


def summarise_verdicts(verdicts: dict[str, DatasetVerdict]) -> VerdictSummary:
    """One line across datasets that accounts for testing several of them. The signed-rank
    test pools mean differences only when every metric is on one [0, 1] scale with one ROPE."""
    eq = {d: v for d, v in verdicts.items() if v.equal is not None}
    counts = {o: sum(v.equal.outcome == o for v in eq.values()) for o in OUTCOMES.values()}
    if not eq:
        return VerdictSummary(counts, pd.DataFrame(columns=["mean", "p", "p_holm"]), None, DEFAULT_ROPE)
    s = stats.family_summary({d: v.equal.differences for d, v in eq.items()},
                             {d: v.equal.ratio for d, v in eq.items()}, {d: v.rope for d, v in eq.items()},
                             threshold=DECISIVE)
    signed, note = s.signed_rank, s.note
    if signed is not None and not all(v.metric in BOUNDED for v in eq.values()):
        signed, note = None, "metrics on different scales: mean differences are not pooled"
    return VerdictSummary(counts, s.table.reset_index(), signed, next(iter(eq.values())).rope, note)


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
