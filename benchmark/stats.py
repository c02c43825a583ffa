"""Statistics for comparing learners: one data set with resampling, many data sets, budgets.

Pure functions over numpy/pandas objects; results are small frozen dataclasses.
Conventions used throughout:

* Differences are ``A - B``; with higher-is-better scores, positive favours A.
* Ranks follow Demsar (2006): rank 1 is the best learner on a data set and tied
  learners share the average of the ranks they span.
* Tables are ``DataFrame``s with one row per data set and one column per learner.

References
----------
Nadeau & Bengio (2003), Inference for the generalization error, Machine Learning 52.
Demsar (2006), Statistical comparisons of classifiers over multiple data sets, JMLR 7.
Benavoli, Corani, Mangili, Zaffalon, Ruggeri (2014), A Bayesian Wilcoxon signed-rank
test based on the Dirichlet process, ICML.
Benavoli, Corani, Demsar, Zaffalon (2017), Time for a change: a tutorial for comparing
multiple classifiers through Bayesian analysis, JMLR 18.
Dodge, Gururangan, Card, Schwartz, Smith (2019), Show your work: improved reporting of
experimental results, EMNLP.
Grinsztajn, Oyallon, Varoquaux (2022), Why do tree-based models still outperform deep
learning on tabular data?, NeurIPS Datasets and Benchmarks.
Bouckaert & Frank (2004), Evaluating the replicability of significance tests for comparing
learning algorithms, PAKDD (repeated cross-validation: variance factor 1/(rk) + n_test/n_train).
Iman & Davenport (1980), Approximations of the critical region of the Friedman statistic,
Communications in Statistics A 9.
Conover (1999), Practical Nonparametric Statistics, 3rd ed., section 5.8 (ties in Friedman).
Phipson & Smyth (2010), Permutation p-values should never be zero, SAGMB 9.
Holm (1979), A simple sequentially rejective multiple test procedure, Scand. J. Statistics 6.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations, permutations
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests


@dataclass(frozen=True)
class TTestResult:
    t: float
    df: int
    p: float
    ci: tuple[float, float]
    mean: float


@dataclass(frozen=True)
class BayesResult:
    """Posterior probabilities that A - B is below -rope, inside [-rope, rope], above rope."""

    p_left: float
    p_rope: float
    p_right: float
    mean: float
    scale: float
    df: int


@dataclass(frozen=True)
class SignedRankResult:
    """Posterior probabilities that left / rope / right is the most probable region."""

    p_left: float
    p_rope: float
    p_right: float


@dataclass(frozen=True, eq=False)
class FriedmanResult:
    """Friedman test over data sets.  ``p`` and ``iman_davenport_p`` are large-sample
    approximations; ``permutation_p`` is exact ("exact": every within-row ordering enumerated)
    or Monte Carlo ("monte carlo": ``n_permutations`` seeded draws), valid at any N and k."""

    chi2: float
    p: float
    iman_davenport_F: float
    iman_davenport_p: float
    avg_ranks: pd.Series
    n_datasets: int
    n_learners: int
    permutation_p: float = math.nan
    permutation_method: str = ""
    n_permutations: int = 0

    @property
    def omnibus_p(self) -> float:
        """The p that gates the post-hoc tests: the permutation p, else Iman-Davenport's."""
        return self.permutation_p if math.isfinite(self.permutation_p) else self.iman_davenport_p


@dataclass(frozen=True)
class CI:
    low: float
    high: float
    estimate: float


# ---------------------------------------------------------------- validation


def _vector(values, name: str, min_len: int = 1) -> np.ndarray:
    """A 1-d float array of finite values, at least ``min_len`` long."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size < min_len:
        raise ValueError(f"{name}: need a 1-d sequence of at least {min_len} values, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: values must be finite (no NaN or inf)")
    return arr


def _check_alpha(alpha: float, name: str = "alpha") -> float:
    """``alpha`` as a float, or ValueError: a level outside (0, 1) gives nonsense intervals."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must satisfy 0 < {name} < 1, got {alpha!r}") from None
    if not 0 < value < 1:
        raise ValueError(f"{name} must satisfy 0 < {name} < 1, got {alpha}")
    return value


def _plain(value) -> str:
    """A cell value as a reader would write it: inf, -inf, 1.5, 'abc' (never np.float64(inf))."""
    if isinstance(value, (bool, np.bool_)):
        return repr(bool(value))
    if isinstance(value, (int, float, np.number)):
        return repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
    return repr(value)


def check_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` as floats, or raise ``ValueError`` naming the first bad row and column.

    Friedman, Nemenyi and Wilcoxon need a complete table: every data set (row) scored
    for every learner (column), at least two of each, no repeated labels.
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError("scores must be a table (DataFrame) with data sets as rows and learners as columns")
    n_rows, n_cols = table.shape
    if n_cols < 2:
        only = f" (column {table.columns[0]!r})" if n_cols else ""
        raise ValueError(f"only {n_cols} learner{only}; need at least 2 learners to compare")
    if n_rows < 2:
        only = f" (row {table.index[0]!r})" if n_rows else ""
        raise ValueError(f"only {n_rows} dataset{only}; need at least 2 datasets to compare learners")
    for axis, labels in (("row", table.index), ("column", table.columns)):
        repeated = labels[labels.duplicated()]
        if len(repeated):
            raise ValueError(f"{axis} {repeated[0]!r} appears more than once; labels must be unique")
    numeric = table.apply(pd.to_numeric, errors="coerce").astype(float)
    missing = table.isna().to_numpy()
    bad = missing | ~np.isfinite(numeric.to_numpy())
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raw = table.iat[i, j]
        if missing[i, j]:
            why = "missing value; every dataset needs a score for every learner"
        else:
            why = f"not a finite number ({_plain(raw)}); scores must be numeric"
        more = int(bad.sum()) - 1
        tail = f" ({more} more bad cell{'s' if more != 1 else ''})" if more else ""
        raise ValueError(f"row {table.index[i]!r}, column {table.columns[j]!r}: {why}{tail}")
    return numeric


# ------------------------------------------------------- one data set, k folds


def _corrected_scale(d: np.ndarray, test_train_ratio: float) -> float:
    """Nadeau-Bengio standard error: sqrt((1/k + n_test/n_train) * sample variance)."""
    if test_train_ratio < 0:
        raise ValueError(f"test_train_ratio must be >= 0 (n_test / n_train), got {test_train_ratio}")
    return math.sqrt((1 / d.size + test_train_ratio) * d.var(ddof=1))


def corrected_ttest(differences, test_train_ratio: float, alpha: float = 0.05) -> TTestResult:
    """Corrected resampled t-test of Nadeau & Bengio (2003), two-sided.

    Fold scores share training data, so the naive variance 1/k * s^2 is too small; the
    correction inflates it to (1/k + n_test/n_train) * s^2, df = k - 1.  With r repeats of
    k-fold CV pass all r k differences: the factor is then 1/(rk) + 1/(k-1), df = rk - 1
    (Bouckaert & Frank 2004).  ``ci`` is the 1 - alpha interval of the mean difference.  If all differences are equal the standard
    error is 0: then t = +-inf and p = 0 for a non-zero mean, t = 0 and p = 1 for a zero
    mean, and the interval collapses to the mean.
    """
    alpha = _check_alpha(alpha)
    d = _vector(differences, "differences", min_len=2)
    mean, df, se = float(d.mean()), d.size - 1, _corrected_scale(d, test_train_ratio)
    if se == 0:
        t = math.copysign(math.inf, mean) if mean else 0.0
        return TTestResult(t, df, 0.0 if mean else 1.0, (mean, mean), mean)
    t = mean / se
    half = float(sps.t.ppf(1 - alpha / 2, df)) * se
    return TTestResult(t, df, float(2 * sps.t.sf(abs(t), df)), (mean - half, mean + half), mean)


def bayesian_correlated_ttest(differences, test_train_ratio: float, rope: float) -> BayesResult:
    """Bayesian correlated t-test (Benavoli et al. 2017, section 3; baycomp's CorrelatedTTest).

    The posterior of the mean difference is Student t with df = k - 1, loc = mean and
    scale = sqrt((1/k + rho/(1 - rho)) * s^2).  The paper's rho = n_test / (n_test + n_train),
    so rho/(1 - rho) = n_test/n_train = ``test_train_ratio``: the same correction as
    :func:`corrected_ttest`.  For k-fold CV the ratio is 1/(k-1).  With zero variance the
    posterior is a point mass at the mean.
    """
    if rope < 0:
        raise ValueError(f"rope must be >= 0, got {rope}")
    d = _vector(differences, "differences", min_len=2)
    mean, df, scale = float(d.mean()), d.size - 1, _corrected_scale(d, test_train_ratio)
    if scale == 0:
        p_left, p_right = float(mean < -rope), float(mean > rope)
    else:
        p_left = float(sps.t.cdf(-rope, df, mean, scale))
        p_right = float(sps.t.sf(rope, df, mean, scale))
    return BayesResult(p_left, max(0.0, 1 - p_left - p_right), p_right, mean, scale, df)


def decide(result: BayesResult | SignedRankResult, threshold: float = 0.95) -> str:
    """Four-outcome symmetric rule on a posterior of A - B (Benavoli et al. 2017, section 3.3).

    "right" (A better by more than the ROPE) or "left" (B better) when that region holds at
    least (1 + threshold) / 2 of the posterior (0.975 at the default): a winner is a two-sided
    question, so the error is split between the two sides, the rate of declaring a winner
    under the null stays at or below 1 - threshold, and a winner is only named when the
    (threshold) two-sided interval lies wholly beyond the ROPE, never beside an interval that
    contains 0. "rope" (practically equivalent) when the ROPE holds >= ``threshold``;
    otherwise "undecided". Symmetric on purpose: a rule that calls one side on weaker evidence
    than the other (e.g. "not warranted" whenever P(A better) < 0.5) is biased toward that
    side. ``threshold`` must be in (0.5, 1) so that at most one region can qualify.
    """
    for outcome, need in decide_levels(threshold).items():
        if getattr(result, f"p_{outcome}") >= need:
            return outcome
    return "undecided"


def decide_levels(threshold: float = 0.95) -> dict[str, float]:
    """The posterior mass :func:`decide` needs for each outcome, in the order it checks them
    (shared so that vectorised simulations apply the very same rule)."""
    if not 0.5 < threshold < 1:
        raise ValueError(f"threshold must satisfy 0.5 < threshold < 1, got {threshold}")
    side = (1 + threshold) / 2
    return {"right": side, "left": side, "rope": threshold}


def nested_selection(validation: pd.DataFrame, test: pd.DataFrame,
                     lower_is_better: bool = False) -> pd.DataFrame:
    """Per row (an outer fold), the column (a learner) with the best validation score, and its test score.

    A family is chosen like an AutoML system: by inner-validation score only, never by the
    outer test score (choosing by test score is a max over noisy estimates, biased upward,
    and favours the family with more members).  NaN validation scores are not available;
    ties go to the first column in column order.  Returns a DataFrame indexed like the input
    with columns "pick" (the column name, or None when the row has no finite validation
    score) and "test" (the picked learner's test score in that row, NaN when none).
    """
    if not validation.index.equals(test.index) or not validation.columns.equals(test.columns):
        raise ValueError("validation and test must have the same index and columns")
    val = validation.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    scores = test.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(val)
    signed = np.where(ok, -val if lower_is_better else val, -np.inf)
    has = ok.any(axis=1)
    if val.shape[1]:
        best = signed.argmax(axis=1)  # the first maximum: ties go to the first column
        picked = np.where(has, scores[np.arange(len(val)), best], np.nan)
    else:
        best, picked = np.zeros(len(val), dtype=int), np.full(len(val), np.nan)
    picks = [validation.columns[j] if h else None for j, h in zip(best, has)]
    return pd.DataFrame({"pick": pd.Series(picks, index=validation.index, dtype=object),
                         "test": pd.Series(picked, index=validation.index, dtype=float)})


# --------------------------------------------------------- many data sets


def _ranks(table: pd.DataFrame, lower_is_better: bool) -> pd.DataFrame:
    """Per-row ranks, 1 = best, ties share their average rank (Demsar 2006, section 3.2.2)."""
    return table.rank(axis=1, ascending=lower_is_better, method="average")


EXACT_LIMIT = 100_000  # enumerate every within-row ordering when (k!)^N is at most this


def _tie_correction(ranks: np.ndarray) -> float:
    """1 - sum(t^3 - t) / (N k (k^2 - 1)) over each row's groups of t tied ranks."""
    n, k = ranks.shape
    ties = sum(float(t**3 - t) for row in ranks for t in np.unique(row, return_counts=True)[1])
    return 1 - ties / (n * k * (k * k - 1))


def _min_rank_p(n: int, k: int) -> float:
    """A floor for any rank test's p on an N x k table: no observed set of rankings has
    probability below (k!)^-N under the null, so no p can be smaller."""
    return max(1 / math.factorial(k) ** n, float(np.finfo(float).tiny))  # int / int: exact


def _rank_sum_statistic(doubled: np.ndarray) -> np.ndarray:
    """sum_j R_j^2 on doubled (integer) ranks: monotone in chi2 under within-row permutation,
    which keeps each row's ties and so the tie correction."""
    return (doubled.sum(axis=-2) ** 2).sum(axis=-1)


def _friedman_permutation_p(ranks: np.ndarray, n_permutations: int, seed: int
                            ) -> tuple[float, str, int]:
    """P(statistic >= observed) when each row's ranks are exchangeable (the Friedman null).

    Exact when (k!)^N <= EXACT_LIMIT (all orderings, the observed one included, so p > 0);
    otherwise Monte Carlo with p = (1 + count) / (1 + B) (Phipson & Smyth 2010), never 0.
    """
    n, k = ranks.shape
    doubled = np.rint(2 * ranks).astype(np.int64)
    observed = _rank_sum_statistic(doubled)
    if math.factorial(k) ** n <= EXACT_LIMIT:
        orders = np.array(list(permutations(range(k))))
        sums = np.zeros((1, k), dtype=np.int64)
        for row in doubled:
            sums = (sums[:, None, :] + row[orders][None, :, :]).reshape(-1, k)
        stat = (sums**2).sum(axis=1)
        return float(np.mean(stat >= observed)), "exact", int(stat.size)
    rng = np.random.default_rng(seed)
    count, chunk = 0, max(1, 2_000_000 // (n * k))
    for start in range(0, n_permutations, chunk):
        b = min(chunk, n_permutations - start)
        order = rng.random((b, n, k)).argsort(axis=2)
        permuted = np.take_along_axis(np.broadcast_to(doubled, (b, n, k)), order, axis=2)
        count += int((_rank_sum_statistic(permuted) >= observed).sum())
    return (1 + count) / (1 + n_permutations), "monte carlo", n_permutations


def friedman(table: pd.DataFrame, lower_is_better: bool = False, n_permutations: int = 10_000,
             seed: int = 0, tie_correction: bool = True) -> FriedmanResult:
    """Friedman test with ties corrected, Iman-Davenport F and a permutation p (Demsar 2006, 3.2.2).

    chi2 is the tie-corrected statistic that ``scipy.stats.friedmanchisquare`` computes
    (Conover 1999, section 5.8): chi2 = (12/(N k (k+1)) sum_j R_j^2 - 3 N (k+1)) / C with
    rank sums R_j and C = 1 - sum(t^3 - t) / (N k (k^2 - 1)) over groups of t tied ranks;
    without ties C = 1 and it is Demsar's chi2_F.  Demsar's formula has no C, so his
    published figures (e.g. Table 6, where one data set ties all four learners) are
    reproduced with ``tie_correction=False``.  F_F = (N-1) chi2 / (N(k-1) - chi2),
    df = (k-1, (k-1)(N-1)) (Iman & Davenport 1980), on the same chi2.  Both approximations are doubtful for
    N < 10 or k < 5 (Demsar), so ``permutation_p`` permutes the ranks within each row:
    exact when (k!)^N <= EXACT_LIMIT, else ``n_permutations`` seeded Monte Carlo draws.
    When every data set ranks the learners alike F_F = inf; no p is ever 0 (the approximate
    ones are floored at (k!)^-N, the smallest probability any set of rankings has).
    """
    scores = check_table(table)
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    n, k = scores.shape
    ranks = _ranks(scores, lower_is_better)
    avg = ranks.mean()
    sums = ranks.to_numpy().sum(axis=0)
    correction = _tie_correction(ranks.to_numpy()) if tie_correction else 1.0
    if correction <= 0:  # every data set ties every learner: no evidence at all
        chi2 = 0.0
    else:
        chi2 = (12.0 / (k * n * (k + 1)) * float(np.sum(sums**2)) - 3 * n * (k + 1)) / correction
    floor = _min_rank_p(n, k)
    denom = n * (k - 1) - chi2
    if denom <= 1e-9 * n * k:
        f_stat, f_p = math.inf, floor
    else:
        f_stat = (n - 1) * chi2 / denom
        f_p = max(float(sps.f.sf(f_stat, k - 1, (k - 1) * (n - 1))), floor)
    perm_p, method, b = _friedman_permutation_p(ranks.to_numpy(), n_permutations, seed)
    return FriedmanResult(chi2, max(float(sps.chi2.sf(chi2, k - 1)), floor), f_stat, f_p, avg, n, k,
                          perm_p, method, b)


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference q_alpha * sqrt(k(k+1)/(6N)) (Demsar 2006, section 3.2.2).

    q_alpha is the studentized range quantile (k groups, infinite df) divided by sqrt(2),
    which reproduces Demsar's Table 5 (up to his third-decimal rounding).
    """
    alpha = _check_alpha(alpha)
    if k < 2 or n < 1:
        raise ValueError(f"need k >= 2 learners and n >= 1 datasets, got k={k}, n={n}")
    q = sps.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def holm(pvalues) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (statsmodels ``multipletests``, method='holm')."""
    return multipletests(np.asarray(pvalues, dtype=float), method="holm")[1]


def _clean_differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b rounded to 1e-12 of the largest score, so that ties printed alike stay ties.

    Without this 0.9 - 0.8 and 0.8 - 0.7 differ in the last bit and the Wilcoxon ranks
    of equal differences would be split arbitrarily.
    """
    scale = max(float(np.abs(a).max()), float(np.abs(b).max()), np.finfo(float).tiny)
    step = 10.0 ** (math.floor(math.log10(scale)) - 12)
    return np.round((a - b) / step) * step


def wilcoxon_holm(table: pd.DataFrame, alpha: float = 0.05, lower_is_better: bool = False) -> pd.DataFrame:
    """All pairwise comparisons: Nemenyi on average ranks and Wilcoxon signed-rank with Holm.

    rank_diff = avg rank of a - avg rank of b (negative: a ranks better);
    nemenyi_significant means |rank_diff| >= CD (Demsar 2006, section 3.2.2).  The Wilcoxon
    test (Demsar section 3.1.3) uses ``scipy.stats.wilcoxon`` with zero_method='zsplit'
    (zero differences split their ranks between R+ and R-, as Demsar does) and
    method='auto' (exact null distribution for <= 50 untied non-zero differences,
    exhaustive permutations for <= 13 with ties or zeros, the normal approximation
    otherwise).  wilcoxon_p_holm adjusts across all pairs.
    """
    alpha = _check_alpha(alpha)
    scores = check_table(table)
    avg = _ranks(scores, lower_is_better).mean()
    cd = nemenyi_cd(scores.shape[1], scores.shape[0], alpha)
    rows = []
    for a, b in combinations(scores.columns, 2):
        diff = _clean_differences(scores[a].to_numpy(), scores[b].to_numpy())
        test = sps.wilcoxon(diff, zero_method="zsplit", method="auto")
        rank_diff = float(avg[a] - avg[b])
        rows.append(dict(a=a, b=b, rank_diff=rank_diff, nemenyi_significant=abs(rank_diff) >= cd,
                         wilcoxon_stat=float(test.statistic), wilcoxon_p=float(test.pvalue)))
    out = pd.DataFrame(rows)
    out["wilcoxon_p_holm"] = holm(out["wilcoxon_p"])
    return out


def min_wilcoxon_p(n: int) -> float:
    """Smallest two-sided p the exact Wilcoxon signed-rank test can give on n pairs: 2 / 2^n.

    It is reached only when all n differences share a sign; so n <= 5 can never give
    p < 0.05, whatever the data.
    """
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a whole number >= 1 (pairs compared), got {n}")
    return min(1.0, 2 / 2 ** int(n))  # int / int: exact, underflows to 0.0


def across_warnings(n_datasets: int, n_learners: int, alpha: float = 0.05) -> list[str]:
    """Plain warnings about what a comparison over N data sets and k learners can show.

    Demsar (2006, section 3.2.2) trusts the Friedman chi-square and F approximations only for
    N >= 10 and k >= 5; below that read the permutation p.  Some tests cannot reach
    significance at all at small N: the exact Friedman p is at least (k!)^-(N-1) (all data sets
    ranking alike), the exact two-sided Wilcoxon p at least 2 / 2^N (:func:`min_wilcoxon_p`),
    Holm multiplies the smallest of m = k(k-1)/2 p-values by m, and a Nemenyi critical
    difference above k - 1 exceeds any possible difference of average ranks.
    """
    alpha = _check_alpha(alpha)
    n, k = int(n_datasets), int(n_learners)
    if n < 1 or k < 2:
        raise ValueError(f"need n_datasets >= 1 and n_learners >= 2, got {n_datasets} and {n_learners}")
    out = []
    if n < 10 or k < 5:
        short = " and ".join(part for part, bad in ((f"{n} datasets", n < 10), (f"{k} learners", k < 5)) if bad)
        out.append(f"only {short}: the Friedman chi-square and Iman-Davenport F approximations are "
                   f"trusted from 10 datasets and 5 learners on (Demsar 2006); read the permutation p")
    friedman_floor = 1 / math.factorial(k) ** (n - 1)  # int / int: exact, underflows to 0.0
    if friedman_floor > alpha:
        out.append(f"with {n} datasets and {k} learners the Friedman test cannot reject at alpha = "
                   f"{alpha:g}: even identical rankings on every dataset give an exact p of "
                   f"(k!)^-(N-1) = {friedman_floor:.3g}")
    smallest, m = min_wilcoxon_p(n), k * (k - 1) // 2
    if smallest > alpha:
        out.append(f"with {n} datasets no Wilcoxon signed-rank test can reach p <= {alpha:g}: the "
                   f"smallest exact two-sided p is 2 / 2^{n} = {smallest:.3g}")
    elif m > 1 and min(1.0, m * smallest) > alpha:
        out.append(f"with {n} datasets and {m} pairs no Holm-adjusted Wilcoxon p can reach "
                   f"<= {alpha:g}: the smallest exact two-sided p is 2 / 2^{n} = {smallest:.3g} and "
                   f"Holm multiplies the smallest of {m} p-values by {m} (= {min(1.0, m * smallest):.3g})")
    cd = nemenyi_cd(k, n, alpha)
    if cd > k - 1:
        out.append(f"the Nemenyi critical difference ({cd:.3f}) exceeds the largest possible difference "
                   f"of average ranks (k - 1 = {k - 1}): no pair can differ significantly")
    return out


def posthoc_gate(result: FriedmanResult, alpha: float = 0.05) -> str:
    """Empty when the post-hoc tests may be read; otherwise the reason, in plain words.

    Pairwise Nemenyi or Wilcoxon-Holm results are read only after the omnibus Friedman test
    rejects equal ranks at ``alpha`` (Demsar 2006, section 3.2.2); the omnibus p is the
    permutation p where computed (:attr:`FriedmanResult.omnibus_p`).
    """
    alpha = _check_alpha(alpha)
    p = result.omnibus_p
    if p <= alpha:
        return ""
    how = (f"{result.permutation_method} permutation p = {p:.3g}" if math.isfinite(result.permutation_p)
           else f"Iman-Davenport p = {p:.3g}")
    return (f"the Friedman test does not reject equal average ranks at alpha = {alpha:g} ({how}), "
            f"so the pairwise differences are not to be read")


def bayesian_signed_rank(a, b, rope: float, n_samples: int = 50000, seed: int = 0,
                         prior_weight: float = 1.0) -> SignedRankResult:
    """Bayesian signed-rank test (Benavoli et al. 2014; 2017 section 5), Monte Carlo.

    Differences z = a - b (one per data set) get a Dirichlet process posterior with one
    pseudo-observation at 0 of weight ``prior_weight``; each posterior draw w gives
    theta_right = sum_ij w_i w_j [z_i + z_j > 2 rope] (a half for equality), theta_left
    likewise below -2 rope, theta_rope = the rest.  Reported: the share of draws in which
    each region is the most probable, as in the paper and baycomp's SignedRankTest
    (whose default prior weight is 0.5; pass ``prior_weight=0.5`` to match).
    """
    if rope < 0:
        raise ValueError(f"rope must be >= 0, got {rope}")
    x, y = _vector(a, "a"), _vector(b, "b")
    if x.size != y.size:
        raise ValueError(f"a and b must have the same length, got {x.size} and {y.size}")
    z = np.concatenate([[0.0], x - y])
    sums = z[:, None] + z[None, :]
    above = (sums > 2 * rope) + 0.5 * (sums == 2 * rope)
    below = (sums < -2 * rope) + 0.5 * (sums == -2 * rope)
    weights = np.r_[prior_weight, np.ones(z.size - 1)]
    w = np.random.default_rng(seed).dirichlet(weights, n_samples)
    right = ((w @ above) * w).sum(axis=1)
    left = ((w @ below) * w).sum(axis=1)
    theta = np.column_stack([left, 1 - left - right, right])
    p_left, p_rope, p_right = np.bincount(theta.argmax(axis=1), minlength=3) / n_samples
    return SignedRankResult(float(p_left), float(p_rope), float(p_right))


@dataclass(frozen=True, eq=False)
class FamilySummary:
    """Deep vs classical over data sets: per-data-set tests, Holm-adjusted, and one overall test.

    ``table`` has one row per data set: n_folds, mean, t, p (corrected t-test), p_holm (Holm
    over data sets), p_deep / p_rope / p_classical (Bayesian correlated t-test) and decision
    ("deep", "classical", "equivalent" or "undecided", from :func:`decide`).  ``signed_rank``
    is the Bayesian signed-rank test over the data sets' mean differences, with its decision;
    ``note`` says why it was not run, when it was not.
    """

    table: pd.DataFrame
    signed_rank: SignedRankResult | None = None
    signed_rank_decision: str = ""
    note: str = ""


FAMILY_OUTCOMES = {"right": "deep", "left": "classical", "rope": "equivalent", "undecided": "undecided"}


def family_summary(differences, ratios, rope, alpha: float = 0.05, threshold: float = 0.95,
                   n_samples: int = 50000, seed: int = 0) -> FamilySummary:
    """Best deep minus best classical learner on several data sets, with multiplicity in view.

    ``differences`` maps each data set to its outer-fold differences (deep - classical,
    oriented so that positive favours deep; all r*k folds of repeated CV), ``ratios`` maps it
    to n_test/n_train, ``rope`` is one number or a map per data set.  Testing each data set
    at alpha inflates the chance of some false call with the number of data sets, so the
    corrected t-test p-values are Holm-adjusted over data sets; each data set's Bayesian
    posterior is read with the symmetric :func:`decide`.  With >= 2 data sets the Bayesian
    signed-rank test (Benavoli et al. 2014) weighs the mean differences, when every data set
    shares one ROPE (the means must be on one scale).
    """
    alpha = _check_alpha(alpha)
    names = list(differences)
    if not names:
        raise ValueError("differences: need at least one dataset")
    ropes = {d: float(rope[d] if isinstance(rope, (dict, pd.Series)) else rope) for d in names}
    rows = []
    for d in names:
        if d not in ratios:
            raise ValueError(f"ratios: no n_test/n_train ratio for dataset {d!r}")
        try:
            t = corrected_ttest(differences[d], float(ratios[d]), alpha)
            b = bayesian_correlated_ttest(differences[d], float(ratios[d]), ropes[d])
        except ValueError as exc:
            raise ValueError(f"dataset {d!r}: {exc}") from None
        rows.append(dict(dataset=d, n_folds=t.df + 1, mean=t.mean, t=t.t, p=t.p, rope=ropes[d],
                         p_deep=b.p_right, p_rope=b.p_rope, p_classical=b.p_left,
                         decision=FAMILY_OUTCOMES[decide(b, threshold)]))
    table = pd.DataFrame(rows).set_index("dataset")
    table.insert(table.columns.get_loc("p") + 1, "p_holm", holm(table["p"]))
    if len(names) < 2:
        return FamilySummary(table, note="the signed-rank test over datasets needs at least 2 datasets")
    if len(set(ropes.values())) > 1:
        return FamilySummary(table, note="datasets have different ROPEs (metrics on different scales), "
                                         "so their mean differences are not pooled")
    sr = bayesian_signed_rank(table["mean"].to_numpy(), np.zeros(len(names)), ropes[names[0]],
                              n_samples=n_samples, seed=seed)
    return FamilySummary(table, sr, FAMILY_OUTCOMES[decide(sr, threshold)])


# ------------------------------------------------------------ tuning budgets


def expected_max(values, lower_is_better: bool = False) -> np.ndarray:
    """Expected best of n = 1..N i.i.d. draws (with replacement) from ``values``.

    Dodge et al. (2019), eq. 1 on the empirical CDF: with v_(1) <= ... <= v_(N),
    E[max_n] = sum_i v_(i) ((i/N)^n - ((i-1)/N)^n).  ``lower_is_better`` gives the
    expected minimum instead.
    """
    v = _vector(values, "values")
    if lower_is_better:
        return -expected_max(-v)
    n_total = v.size
    i = np.arange(1, n_total + 1)
    n = i[:, None]
    return ((i / n_total) ** n - ((i - 1) / n_total) ** n) @ np.sort(v)


def _expected_running_best(s: np.ndarray, default_first: bool) -> np.ndarray:
    """Exact mean of the running maximum over uniformly random orders of the trials.

    The max of m draws without replacement from M sorted values is <= r_(i) with
    probability C(i, m)/C(M, m), a hypergeometric pmf; a pinned default joins every max.
    """
    head, rest = (s[0], s[1:]) if default_first else (-np.inf, s)
    r = np.sort(rest)
    m_total = r.size
    m = np.arange(1, m_total + 1)[:, None]
    cdf = sps.hypergeom.pmf(m, m_total, np.arange(m_total + 1), m)
    curve = np.diff(cdf, axis=1) @ np.maximum(head, r)
    return np.r_[head, curve] if default_first else curve


def budget_curve(values, n_orders: int = 200, seed: int = 0, default_first: bool = True,
                 lower_is_better: bool = False) -> pd.DataFrame:
    """Best score after n trials, n = 1..N, as in Grinsztajn et al. (2022), figure 1.

    Random search order is arbitrary, so the trials are reshuffled ``n_orders`` times
    keeping trial 0 (the default configuration) first; band_low/band_high are the 10th
    and 90th percentiles of the running best across those orders.  expected_max is the
    exact mean over all such orders (draws without replacement, unlike
    :func:`expected_max`), so the curve ends at the observed best, inside the band.
    """
    v = _vector(values, "values")
    sign = -1.0 if lower_is_better else 1.0
    rng = np.random.default_rng(seed)
    start = 1 if default_first else 0
    orders = np.array([np.r_[np.arange(start), start + rng.permutation(v.size - start)]
                       for _ in range(n_orders)])
    running = sign * np.maximum.accumulate(sign * v[orders], axis=1)
    low, high = np.percentile(running, [10, 90], axis=0)
    return pd.DataFrame({
        "n": np.arange(1, v.size + 1),
        "expected_max": sign * _expected_running_best(sign * v, default_first),
        "band_low": low,
        "band_high": high,
    })


def best_so_far_test(val_scores, test_scores, lower_is_better: bool = False) -> np.ndarray:
    """Test score of the configuration that is best on validation after each trial.

    Model selection uses validation only; the earliest trial wins ties on validation.
    """
    val = _vector(val_scores, "val_scores")
    test = _vector(test_scores, "test_scores")
    if val.size != test.size:
        raise ValueError(f"val_scores and test_scores differ in length: {val.size} vs {test.size}")
    s = -val if lower_is_better else val
    improved = s > np.maximum.accumulate(np.r_[-np.inf, s[:-1]])
    best = np.maximum.accumulate(np.where(improved, np.arange(s.size), 0))
    return test[best]


def bootstrap_ci(y_true, y_score, metric: Callable, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> CI:
    """Percentile bootstrap CI of ``metric(y_true, y_score)`` over test examples (Efron 1979).

    Examples are resampled as (label, score) pairs, by resampling row indices with
    ``scipy.stats.bootstrap`` so 2-d scores (class probabilities) work too.  The metric
    must be defined on every resample (e.g. ROC AUC needs both classes present).
    """
    alpha = _check_alpha(alpha)
    y_true, y_score = np.asarray(y_true), np.asarray(y_score)
    if len(y_true) != len(y_score) or len(y_true) < 2:
        raise ValueError(f"need >= 2 paired examples, got {len(y_true)} labels and {len(y_score)} scores")
    res = sps.bootstrap((np.arange(len(y_true)),), lambda i: metric(y_true[i], y_score[i]),
                        n_resamples=n_boot, confidence_level=1 - alpha, method="percentile",
                        vectorized=False, rng=seed)
    low, high = sorted(map(float, res.confidence_interval))  # never low > high
    return CI(low, high, float(metric(y_true, y_score)))


# ------------------------------------------------- leaderboards: battles, Elo, win rates
#
# Elo follows TabArena (Erickson et al. 2025, "TabArena: A Living Benchmark for Machine Learning
# on Tabular Data", arXiv:2506.16791; autogluon/tabrepo, tabrepo/tabarena/elo_utils.py,
# EloHelper, and TabArena.compute_elo): every pair of methods meets on every (task, split) both
# ran, the lower error wins and a tie is half a win to each; each battle weighs 1/n_splits of its
# task, so every task counts once; ratings are the Bradley-Terry maximum-likelihood fit of a
# logistic regression without intercept (C = 1e6) on the scale Elo = 400 log10-strength + 1000;
# the 95% interval is the 2.5% and 97.5% quantiles of the fit over tasks resampled with
# replacement, around the fit on all tasks, widths clipped at 0; an optional reference method is
# then moved to 1000 (post-calibration: the widths do not depend on the reference).

ELO_SCALE = 400.0
ELO_INIT = 1000.0
ELO_C = 1e6  # TabArena's LogisticRegression(C=1e6): a ridge that only matters when a field is separable


@dataclass(frozen=True, eq=False)
class EloResult:
    """``table``: one row per learner (index), columns elo, low, high (the 95% bootstrap
    interval) and datasets (those it met another learner on); best first."""

    table: pd.DataFrame
    n_boot: int
    anchor: str | None = None


def _long(table: pd.DataFrame, lower_is_better: bool) -> pd.DataFrame:
    """Columns dataset, learner, fold, value as floats, higher is better; ValueError naming a
    missing column or a repeated (dataset, fold, learner) row."""
    need = {"dataset", "learner", "value"}
    if not isinstance(table, pd.DataFrame) or not need <= set(table.columns):
        have = sorted(map(str, table.columns)) if isinstance(table, pd.DataFrame) else type(table).__name__
        raise ValueError(f"a long results table needs columns {sorted(need)} (fold optional), got {have}")
    out = table.assign(fold=table["fold"] if "fold" in table else 0)[["dataset", "learner", "fold", "value"]]
    out = out.assign(value=pd.to_numeric(out["value"], errors="coerce").astype(float))
    out = out[np.isfinite(out["value"])]
    repeated = out.duplicated(["dataset", "fold", "learner"])
    if repeated.any():
        r = out[repeated].iloc[0]
        raise ValueError(f"dataset {r.dataset!r}, fold {r.fold!r}, learner {r.learner!r} appears more "
                         "than once; each learner needs one score per dataset and fold")
    return out.assign(value=-out["value"]) if lower_is_better else out


def battles(table: pd.DataFrame, lower_is_better: bool = False) -> pd.DataFrame:
    """Every pair of learners on every (dataset, fold) both were scored on, as TabArena pairs them.

    ``table`` is long: dataset, learner, value and optionally fold (a split; without it each
    dataset is one split). Returns columns dataset, fold, a, b (a < b), score (1 when a wins, 0.5
    for a tie, 0 when b wins) and weight (1 / the dataset's number of folds, so each dataset
    weighs 1 whatever its folds).
    """
    t = _long(table, lower_is_better)
    pairs = t.merge(t, on=["dataset", "fold"], suffixes=("_a", "_b"))
    pairs = pairs[pairs["learner_a"].astype(str) < pairs["learner_b"].astype(str)]
    score = np.sign(pairs["value_a"] - pairs["value_b"]) / 2 + 0.5
    folds = t.groupby("dataset")["fold"].nunique()
    return pd.DataFrame({"dataset": pairs["dataset"], "fold": pairs["fold"], "a": pairs["learner_a"],
                         "b": pairs["learner_b"], "score": score.astype(float),
                         "weight": 1.0 / pairs["dataset"].map(folds).astype(float)}).reset_index(drop=True)


def _bradley_terry(wins: np.ndarray, max_iter: int = 500) -> np.ndarray:
    """log10-strengths maximising sum_ij wins[i, j] log P(i beats j) - ||beta||^2 / (4 C).

    The ridge is TabArena's C = 1e6 on its doubled battles: it only matters when one group of
    learners beats the rest everywhere (then the plain maximum is at infinity), and at the
    optimum the strengths sum to 0, so ratings come out centred on 1000. Newton's method with
    step halving: the objective is convex and the matrices are learners x learners."""
    from scipy.special import expit

    ln10, ridge = math.log(10.0), 1 / (4 * ELO_C)
    both = wins + wins.T

    def loss(beta):
        d = ln10 * (beta[:, None] - beta[None, :])
        return float((wins * np.logaddexp(0.0, -d)).sum()) + ridge * float(beta @ beta)

    beta = np.zeros(len(wins))
    for _ in range(max_iter):
        p = expit(ln10 * (beta[:, None] - beta[None, :]))
        grad = ln10 * (both * p - wins).sum(axis=1) + 2 * ridge * beta
        if np.abs(grad).max() < 1e-10:
            break
        curv = ln10**2 * both * p * (1 - p)
        hess = np.diag(curv.sum(axis=1) + 2 * ridge) - curv
        step, now = np.linalg.solve(hess, -grad), loss(beta)
        while loss(beta + step) > now and np.abs(step).max() > 1e-12:
            step /= 2
        beta = beta + step
    return beta - beta.mean()


def _win_tensor(b: pd.DataFrame, names: list, datasets: list) -> np.ndarray:
    """Weighted wins per dataset: array (dataset, winner, loser), ties split in halves."""
    index, where = {n: i for i, n in enumerate(names)}, {d: i for i, d in enumerate(datasets)}
    out = np.zeros((len(datasets), len(names), len(names)))
    d, ia, ib = b["dataset"].map(where).to_numpy(), b["a"].map(index).to_numpy(), b["b"].map(index).to_numpy()
    np.add.at(out, (d, ia, ib), (b["weight"] * b["score"]).to_numpy())
    np.add.at(out, (d, ib, ia), (b["weight"] * (1 - b["score"])).to_numpy())
    return out


def _elo_fit(wins: np.ndarray) -> np.ndarray:
    """Ratings from a (winner, loser) matrix; NaN for a learner that met nobody."""
    met = (wins.sum(axis=0) + wins.sum(axis=1)) > 0
    out = np.full(len(wins), np.nan)
    if met.sum() >= 2:
        out[met] = ELO_SCALE * _bradley_terry(wins[np.ix_(met, met)]) + ELO_INIT
    return out


def elo(table: pd.DataFrame, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
        anchor: str | None = None, lower_is_better: bool = False) -> EloResult:
    """Bradley-Terry Elo over datasets with a dataset-level bootstrap interval, as TabArena computes it.

    ``table`` is long (see :func:`battles`). The point estimate is the fit on every dataset; the
    1 - alpha interval takes the alpha/2 and 1 - alpha/2 quantiles of ``n_boot`` refits on
    datasets drawn with replacement (a learner absent from a draw sits that draw out), widened
    to hold the point estimate. ``anchor`` moves that learner to 1000 afterwards (TabArena
    anchors a default random forest), shifting point and interval alike; by default the
    ratings average 1000. Why not a mean score: Elo weighs every head-to-head on one scale
    however the metrics differ, and the bootstrap over datasets says how much one dataset more
    or less would move it.
    """
    alpha = _check_alpha(alpha)
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    b = battles(table, lower_is_better)
    names = sorted(set(_long(table, lower_is_better)["learner"]), key=str)
    if len(names) < 2:
        raise ValueError(f"Elo needs at least 2 learners, got {names}")
    if anchor is not None and anchor not in names:
        raise ValueError(f"anchor {anchor!r} is not a learner of the table; use one of {names}")
    datasets = sorted(b["dataset"].unique(), key=str)
    tensor = _win_tensor(b, names, datasets)
    point = pd.Series(_elo_fit(tensor.sum(axis=0)), index=names)
    rng = np.random.default_rng(seed)
    draws = pd.DataFrame([_elo_fit(np.tensordot(np.bincount(rng.integers(0, len(datasets), len(datasets)),
                                                            minlength=len(datasets)), tensor, axes=1))
                          for _ in range(int(n_boot))], columns=names)
    low = np.fmin(draws.quantile(alpha / 2), point)
    high = np.fmax(draws.quantile(1 - alpha / 2), point)
    shift = ELO_INIT - point[anchor] if anchor is not None else 0.0
    met = ((tensor.sum(axis=1) + tensor.sum(axis=2)) > 0).sum(axis=0)
    out = pd.DataFrame({"elo": point + shift, "low": low + shift, "high": high + shift,
                        "datasets": pd.Series(met, index=names).astype(int)})
    return EloResult(out.sort_values("elo", ascending=False), int(n_boot), anchor)


def win_rates(table: pd.DataFrame, lower_is_better: bool = False) -> pd.DataFrame:
    """Learner x learner: the share of datasets on which the row learner beats the column learner.

    Within a dataset each fold is a head-to-head (a tie is half a win), averaged over the folds
    both were scored on; the dataset shares are then averaged over the datasets both ran, so
    each dataset counts once, as in :func:`elo`. NaN on the diagonal and for pairs that never
    met. Entry (a, b) + entry (b, a) = 1.
    """
    b = battles(table, lower_is_better)
    names = sorted(set(_long(table, lower_is_better)["learner"]), key=str)
    per = b.groupby(["dataset", "a", "b"])["score"].mean().groupby(["a", "b"]).mean()
    out = pd.DataFrame(np.nan, index=names, columns=names)
    for (a, c), share in per.items():
        out.loc[a, c], out.loc[c, a] = share, 1 - share
    return out
