"""Every statistic in benchmark.stats against a published example or an independent computation."""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests

from benchmark import stats
from benchmark.stats_cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "scripts" / "stats_examples"
WIDE = EXAMPLES / "demsar2006_table6.csv"
LONG = EXAMPLES / "demsar2006_table6_long.csv"
LEARNERS = ["C4.5", "C4.5+m", "C4.5+cf", "C4.5+m+cf"]


@pytest.fixture
def demsar() -> pd.DataFrame:
    """Demsar (2006) Table 6: AUC of four C4.5 variants on 14 data sets, as printed."""
    return pd.read_csv(WIDE, index_col="dataset")


# ------------------------------------------------------------ Demsar (2006)


def test_demsar_table_as_printed(demsar):
    # The printed table gives 2.929 / 1.929 for C4.5+cf / C4.5+m+cf, not the published
    # 2.893 / 1.964: in the voting row both print as 0.975 (a tie, 2.5 each here) while the
    # paper ranks C4.5+cf 2nd and C4.5+m+cf 3rd from the unrounded AUCs.
    fr = stats.friedman(demsar)
    assert list(fr.avg_ranks.index) == LEARNERS
    np.testing.assert_allclose(fr.avg_ranks, [44 / 14, 28 / 14, 41 / 14, 27 / 14])
    assert (fr.n_datasets, fr.n_learners) == (14, 4)
    assert fr.chi2 == pytest.approx(9.857, abs=1e-3)
    assert fr.iman_davenport_F == pytest.approx(3.987, abs=1e-3)


def test_demsar_published_figures_with_voting_tie_broken_as_in_paper(demsar):
    demsar.loc["voting", "C4.5+cf"] = 0.9752  # still prints as 0.975; ranked 2nd as in the paper
    fr = stats.friedman(demsar)
    np.testing.assert_allclose(fr.avg_ranks.round(3), [3.143, 2.000, 2.893, 1.964])
    assert round(fr.chi2, 2) == 9.28
    assert round(fr.iman_davenport_F, 2) == 3.69
    assert fr.p == pytest.approx(sps.chi2.sf(fr.chi2, 3))
    assert fr.iman_davenport_p == pytest.approx(sps.f.sf(fr.iman_davenport_F, 3, 39))


def test_demsar_critical_differences():
    assert round(stats.nemenyi_cd(4, 14, 0.05), 2) == 1.25
    assert round(stats.nemenyi_cd(4, 14, 0.10), 2) == 1.12


DEMSAR_TABLE5 = {
    0.05: [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102, 3.164],
    0.10: [1.645, 2.052, 2.291, 2.459, 2.589, 2.693, 2.780, 2.855, 2.920],
}


@pytest.mark.parametrize("alpha", sorted(DEMSAR_TABLE5))
def test_nemenyi_q_matches_demsar_table5(alpha):
    # Demsar's q come from 3-decimal studentized-range tables, so three entries
    # (k=3, 7 at 0.05; k=5 at 0.10) sit 0.0005-0.0007 from the exact quantile.
    for k, published in zip(range(2, 11), DEMSAR_TABLE5[alpha]):
        n = 10
        q = stats.nemenyi_cd(k, n, alpha) / math.sqrt(k * (k + 1) / (6 * n))
        assert abs(q - published) < 1e-3, (k, q, published)


def test_demsar_wilcoxon_example(demsar):
    # Section 3.1.3, Table 2: C4.5+m vs C4.5, zero differences split between R+ and R-.
    d = (demsar["C4.5+m"] - demsar["C4.5"]).round(3).to_numpy()
    ranks = sps.rankdata(np.abs(d))
    r_plus = ranks[d > 0].sum() + ranks[d == 0].sum() / 2
    r_minus = ranks[d < 0].sum() + ranks[d == 0].sum() / 2
    assert (r_plus, r_minus) == (93, 12)
    pairs = stats.wilcoxon_holm(demsar).set_index(["a", "b"])
    row = pairs.loc[("C4.5", "C4.5+m")]
    assert row.wilcoxon_stat == 12
    assert row.wilcoxon_p < 0.05
    assert row.wilcoxon_p == pytest.approx(sps.wilcoxon(d, zero_method="zsplit").pvalue)


# ----------------------------------------------------- Friedman, Wilcoxon, Holm


def test_friedman_matches_scipy_without_ties():
    table = pd.DataFrame(np.random.default_rng(1).normal(size=(12, 5)), columns=list("abcde"))
    fr = stats.friedman(table)
    ref = sps.friedmanchisquare(*table.to_numpy().T)
    assert fr.chi2 == pytest.approx(ref.statistic)
    assert fr.p == pytest.approx(ref.pvalue)


def test_lower_is_better_reverses_ranks(demsar):
    higher = stats.friedman(demsar).avg_ranks
    lower = stats.friedman(demsar, lower_is_better=True).avg_ranks
    np.testing.assert_allclose(lower, 5 - higher)


def test_friedman_perfect_agreement_gives_infinite_f():
    table = pd.DataFrame({"a": [3.0, 2.0, 5.0], "b": [2.0, 1.0, 4.0], "c": [1.0, 0.0, 3.0]})
    fr = stats.friedman(table)
    assert fr.chi2 == pytest.approx(3 * 2)  # N(k-1), the maximum
    assert (fr.iman_davenport_F, fr.iman_davenport_p) == (math.inf, 0.0)


def test_wilcoxon_holm_matches_scipy_and_statsmodels():
    rng = np.random.default_rng(2)
    table = pd.DataFrame(rng.normal(size=(20, 4)) + [0, 0.3, 0.6, 0.9], columns=list("abcd"))
    out = stats.wilcoxon_holm(table, alpha=0.05)
    assert list(out.columns) == ["a", "b", "rank_diff", "nemenyi_significant",
                                 "wilcoxon_stat", "wilcoxon_p", "wilcoxon_p_holm"]
    assert list(zip(out.a, out.b)) == list(itertools.combinations("abcd", 2))
    ref = [sps.wilcoxon(table[a] - table[b], zero_method="zsplit").pvalue for a, b in zip(out.a, out.b)]
    np.testing.assert_allclose(out.wilcoxon_p, ref)
    np.testing.assert_allclose(out.wilcoxon_p_holm, multipletests(ref, method="holm")[1])
    ranks = stats.friedman(table).avg_ranks
    cd = stats.nemenyi_cd(4, 20)
    for r in out.itertuples():
        assert r.rank_diff == pytest.approx(ranks[r.a] - ranks[r.b])
        assert r.nemenyi_significant == (abs(r.rank_diff) >= cd)


def test_wilcoxon_treats_equal_printed_differences_as_ties():
    a = np.array([0.9, 0.8, 0.65, 0.4, 0.3, 0.75])
    b = np.array([0.8, 0.7, 0.6, 0.5, 0.25, 0.5])
    assert 0.9 - 0.8 != 0.8 - 0.7  # floating point would split the tie
    out = stats.wilcoxon_holm(pd.DataFrame({"a": a, "b": b}))
    exact = sps.wilcoxon([0.1, 0.1, 0.05, -0.1, 0.05, 0.25], zero_method="zsplit")
    assert out.wilcoxon_stat[0] == exact.statistic
    assert out.wilcoxon_p[0] == pytest.approx(exact.pvalue)


def test_holm_hand_example_and_statsmodels():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    p = np.random.default_rng(3).uniform(0, 0.2, size=9)
    np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1])


# ------------------------------------------------------------- check_table


@pytest.mark.parametrize("cell, message", [
    (np.nan, "row 'iris', column 'svm': missing value; every dataset needs a score for every learner"),
    ("abc", "row 'iris', column 'svm': not a finite number ('abc')"),
    (np.inf, "row 'iris', column 'svm': not a finite number (inf)"),
])
def test_check_table_names_row_and_column(cell, message):
    table = pd.DataFrame({"svm": [0.9, 0.8], "knn": [0.7, 0.6]}, index=["wine", "iris"], dtype=object)
    table.loc["iris", "svm"] = cell
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        stats.check_table(table)


@pytest.mark.parametrize("table, message", [
    (pd.DataFrame({"svm": [0.9, 0.8]}, index=["wine", "iris"]), "only 1 learner (column 'svm')"),
    (pd.DataFrame({"svm": [0.9], "knn": [0.8]}, index=["iris"]), "only 1 dataset (row 'iris')"),
    (pd.DataFrame({"svm": [0.9, 0.8], "knn": [0.7, 0.6]}, index=["iris", "iris"]), "row 'iris' appears more"),
])
def test_check_table_refuses_degenerate_tables(table, message):
    with pytest.raises(ValueError) as err:
        stats.check_table(table)
    assert message in str(err.value)


# ------------------------------------------------- one data set: t-tests


def test_corrected_ttest_hand_example():
    # 5-fold CV: n_test/n_train = 1/4.  mean 0.03, s^2 = 0.00025,
    # corrected var = (1/5 + 1/4) * 0.00025 = 1.125e-4, se = 0.0106066, t = 0.03/se = 2*sqrt(2).
    res = stats.corrected_ttest([0.01, 0.02, 0.03, 0.04, 0.05], 1 / 4)
    se = math.sqrt(1.125e-4)
    assert res.t == pytest.approx(2 * math.sqrt(2))
    assert res.df == 4 and res.mean == pytest.approx(0.03)
    assert res.p == pytest.approx(2 * sps.t.sf(2 * math.sqrt(2), 4))
    assert 0.04 < res.p < 0.05
    half = 2.776445 * se  # t_{0.975, 4} = 2.776445 (6 decimals)
    np.testing.assert_allclose(res.ci, (0.03 - half, 0.03 + half), atol=1e-8)


def test_corrected_ttest_vs_uncorrected_scipy():
    d = np.random.default_rng(4).normal(0.01, 0.02, size=10)
    ratio = 1 / 9
    res = stats.corrected_ttest(d, ratio, alpha=0.1)
    plain = sps.ttest_1samp(d, 0.0)
    t = plain.statistic * math.sqrt((1 / 10) / (1 / 10 + ratio))
    assert res.t == pytest.approx(t)
    assert res.p == pytest.approx(2 * sps.t.sf(abs(t), 9))
    assert res.p > plain.pvalue  # the correction is conservative


def test_corrected_ttest_zero_variance():
    res = stats.corrected_ttest([0.02] * 5, 0.25)
    assert (res.t, res.p, res.ci) == (math.inf, 0.0, (0.02, 0.02))
    res = stats.corrected_ttest([0.0] * 5, 0.25)
    assert (res.t, res.p) == (0.0, 1.0)


def test_bayesian_correlated_ttest_against_student_t():
    d = np.array([0.02, 0.01, 0.03, -0.005, 0.015, 0.025, 0.0, 0.01, 0.02, 0.012])
    rope = 0.01
    res = stats.bayesian_correlated_ttest(d, 1 / 9, rope)
    scale = math.sqrt((1 / 10 + 1 / 9) * d.var(ddof=1))
    post = sps.t(9, d.mean(), scale)
    assert (res.df, res.mean, res.scale) == (9, pytest.approx(d.mean()), pytest.approx(scale))
    assert res.p_left == pytest.approx(post.cdf(-rope))
    assert res.p_right == pytest.approx(1 - post.cdf(rope))
    assert res.p_rope == pytest.approx(post.cdf(rope) - post.cdf(-rope))


def test_bayesian_correlated_ttest_against_baycomp():
    baycomp = pytest.importorskip("baycomp")
    rng = np.random.default_rng(5)
    a, b = rng.normal(0.80, 0.02, 10), rng.normal(0.79, 0.02, 10)
    res = stats.bayesian_correlated_ttest(a - b, 1 / 9, 0.01)  # 10-fold CV
    ref = baycomp.two_on_single(b, a, rope=0.01)  # baycomp takes differences y - x
    np.testing.assert_allclose((res.p_left, res.p_rope, res.p_right), ref)


def test_bayesian_correlated_ttest_zero_variance_is_point_mass():
    res = stats.bayesian_correlated_ttest([0.05] * 5, 0.25, rope=0.01)
    assert (res.p_left, res.p_rope, res.p_right) == (0.0, 0.0, 1.0)


# ------------------------------------------- decisions and nested selection


def _bayes(p_left, p_rope, p_right):
    return stats.BayesResult(p_left, p_rope, p_right, mean=0.0, scale=1.0, df=9)


@pytest.mark.parametrize("probs, threshold, outcome", [
    ((0.01, 0.01, 0.98), 0.95, "right"),
    ((0.98, 0.01, 0.01), 0.95, "left"),
    ((0.02, 0.96, 0.02), 0.95, "rope"),
    ((0.0, 0.025, 0.975), 0.95, "right"),  # (1 + threshold) / 2 itself qualifies a winner
    ((0.01, 0.03, 0.96), 0.95, "undecided"),  # one-sided 0.96: the 95% interval still reaches the ROPE
    ((0.40, 0.20, 0.40), 0.95, "undecided"),
    ((0.01, 0.10, 0.89), 0.95, "undecided"),  # the old rule's "not warranted" has no place here
    ((0.01, 0.10, 0.89), 0.75, "right"),
])
def test_decide_four_outcomes(probs, threshold, outcome):
    assert stats.decide(_bayes(*probs), threshold) == outcome


def test_decide_is_symmetric_under_swapping_a_and_b():
    d = np.array([0.02, 0.03, 0.025, 0.04, 0.015, 0.03])
    ab = stats.decide(stats.bayesian_correlated_ttest(d, 1 / 5, 0.01))
    ba = stats.decide(stats.bayesian_correlated_ttest(-d, 1 / 5, 0.01))
    assert (ab, ba) == ("right", "left")


@pytest.mark.parametrize("threshold", [0.5, 1.0, 0.3, 1.5])
def test_decide_refuses_thresholds_outside_half_to_one(threshold):
    with pytest.raises(ValueError, match=rf"threshold must satisfy 0.5 < threshold < 1, got {threshold}"):
        stats.decide(_bayes(0.0, 0.0, 1.0), threshold)


def test_nested_selection_picks_by_validation_never_by_test():
    index = pd.Index([0, 1, 2, 3], name="outer_fold")
    val = pd.DataFrame({"rf": [0.8, 0.7, np.nan, 0.6], "svm": [0.7, 0.9, 0.5, 0.6],
                        "knn": [0.8, np.nan, 0.4, np.nan]}, index=index)
    test = pd.DataFrame({"rf": [0.1, 0.2, 0.99, 0.3], "svm": [0.99, 0.4, 0.5, 0.6],
                         "knn": [0.99, 0.99, 0.6, 0.7]}, index=index)
    out = stats.nested_selection(val, test)
    assert list(out.columns) == ["pick", "test"] and out.index.equals(index)
    assert list(out["pick"]) == ["rf", "svm", "svm", "rf"]  # ties go to the first column
    np.testing.assert_allclose(out["test"], [0.1, 0.4, 0.5, 0.3])
    low = stats.nested_selection(val, test, lower_is_better=True)
    assert list(low["pick"]) == ["svm", "rf", "knn", "rf"]
    np.testing.assert_allclose(low["test"], [0.99, 0.2, 0.6, 0.3])


def test_nested_selection_row_without_validation_scores():
    val = pd.DataFrame({"a": [np.nan, 0.5], "b": [np.nan, 0.4]}, index=["f0", "f1"])
    test = pd.DataFrame({"a": [0.9, 0.8], "b": [0.7, 0.6]}, index=["f0", "f1"])
    out = stats.nested_selection(val, test)
    assert out.loc["f0", "pick"] is None and math.isnan(out.loc["f0", "test"])
    assert (out.loc["f1", "pick"], out.loc["f1", "test"]) == ("a", 0.8)


def test_nested_selection_needs_matching_tables():
    val = pd.DataFrame({"a": [0.5], "b": [0.4]})
    with pytest.raises(ValueError, match="same index and columns"):
        stats.nested_selection(val, val[["b", "a"]])


# ------------------------------------------------ Bayesian signed-rank test


def test_bayesian_signed_rank_clear_winner():
    a = np.linspace(0.8, 0.9, 12)
    res = stats.bayesian_signed_rank(a, a - 0.1, rope=0.01, n_samples=5000)
    assert res.p_right > 0.99


def test_bayesian_signed_rank_symmetry():
    rng = np.random.default_rng(6)
    a, b = rng.normal(0.8, 0.05, 15), rng.normal(0.8, 0.05, 15)
    ab = stats.bayesian_signed_rank(a, b, rope=0.01, n_samples=5000, seed=1)
    ba = stats.bayesian_signed_rank(b, a, rope=0.01, n_samples=5000, seed=1)
    assert (ab.p_left, ab.p_rope, ab.p_right) == (ba.p_right, ba.p_rope, ba.p_left)
    sym = stats.bayesian_signed_rank([1, 2, 3, 0, 0, 0], [0, 0, 0, 1, 2, 3], rope=0.5, n_samples=20000)
    assert sym.p_left == pytest.approx(sym.p_right, abs=0.02)


def test_bayesian_signed_rank_against_baycomp():
    baycomp = pytest.importorskip("baycomp")
    rng = np.random.default_rng(7)
    a, b = rng.normal(0.81, 0.03, 14), rng.normal(0.80, 0.03, 14)
    res = stats.bayesian_signed_rank(a, b, rope=0.01, n_samples=20000, prior_weight=0.5)
    ref = baycomp.SignedRankTest.probs(b, a, rope=0.01, nsamples=20000, random_state=0)
    np.testing.assert_allclose((res.p_left, res.p_rope, res.p_right), ref, atol=0.02)


# ----------------------------------------------------------- tuning budgets


def _enumerated_max(values, n, pick=max):
    """Exact E[best of n draws with replacement] by enumerating all len(values)**n draws."""
    return np.mean([pick(draw) for draw in itertools.product(values, repeat=n)])


def test_expected_max_dodge_formula():
    v = [0.9, 0.1, 0.5]
    curve = stats.expected_max(v)
    assert curve[1] == pytest.approx((0.1 * 1 + 0.5 * 3 + 0.9 * 5) / 9)
    np.testing.assert_allclose(curve, [_enumerated_max(v, n) for n in (1, 2, 3)])
    np.testing.assert_allclose(stats.expected_max(v, lower_is_better=True),
                               [_enumerated_max(v, n, min) for n in (1, 2, 3)])


def test_expected_max_properties():
    v = np.random.default_rng(8).uniform(size=30)
    curve = stats.expected_max(v)
    assert curve[0] == pytest.approx(v.mean())
    assert np.all(np.diff(curve) >= 0) and curve[-1] <= v.max()


@pytest.mark.parametrize("default_first", [True, False])
def test_budget_curve_expected_max_is_exact_over_orders(default_first):
    v = np.array([0.6, 0.2, 0.9, 0.4, 0.7])
    head, rest = (v[:1], v[1:]) if default_first else (v[:0], v)
    runs = [np.maximum.accumulate(np.r_[head, perm]) for perm in itertools.permutations(rest)]
    curve = stats.budget_curve(v, n_orders=50, default_first=default_first)
    assert list(curve.columns) == ["n", "expected_max", "band_low", "band_high"]
    np.testing.assert_allclose(curve.expected_max, np.mean(runs, axis=0))
    assert list(curve.n) == [1, 2, 3, 4, 5]


def test_budget_curve_band():
    v = np.random.default_rng(9).normal(size=40)
    curve = stats.budget_curve(v, n_orders=200, seed=3)
    assert curve.band_low[0] == curve.band_high[0] == v[0]  # the default always comes first
    assert curve.band_low.iloc[-1] == curve.band_high.iloc[-1] == v.max()
    assert np.all(curve.band_low <= curve.band_high)
    assert np.all(np.diff(curve.band_low) >= 0) and np.all(np.diff(curve.expected_max) >= 0)
    assert curve.equals(stats.budget_curve(v, n_orders=200, seed=3))
    losses = stats.budget_curve(-v, n_orders=200, seed=3, lower_is_better=True)
    np.testing.assert_allclose(losses.expected_max, -curve.expected_max)
    np.testing.assert_allclose(losses.band_low, -curve.band_high)


def test_best_so_far_test():
    val = [0.5, 0.7, 0.6, 0.7, 0.9]
    test = [0.4, 0.65, 0.99, 0.1, 0.8]
    np.testing.assert_allclose(stats.best_so_far_test(val, test), [0.4, 0.65, 0.65, 0.65, 0.8])
    np.testing.assert_allclose(stats.best_so_far_test(val, test, lower_is_better=True),
                               [0.4, 0.4, 0.4, 0.4, 0.4])


# --------------------------------------------------------------- bootstrap


def _accuracy(y_true, y_score):
    return float(np.mean(y_true == (y_score > 0.5)))


def test_bootstrap_ci_matches_independent_percentile_bootstrap():
    rng = np.random.default_rng(10)
    y_true = rng.integers(0, 2, 300)
    y_score = np.clip(y_true * 0.3 + rng.uniform(size=300) * 0.7, 0, 1)
    ci = stats.bootstrap_ci(y_true, y_score, _accuracy, n_boot=2000)
    assert ci.estimate == _accuracy(y_true, y_score)
    assert ci.low < ci.estimate < ci.high
    idx = np.random.default_rng(99).integers(0, 300, size=(2000, 300))
    boots = [_accuracy(y_true[i], y_score[i]) for i in idx]
    np.testing.assert_allclose((ci.low, ci.high), np.percentile(boots, [2.5, 97.5]), atol=0.01)
    ref = sps.bootstrap((y_true, y_score), _accuracy, paired=True, vectorized=False,
                        n_resamples=2000, method="percentile", rng=1).confidence_interval
    np.testing.assert_allclose((ci.low, ci.high), (ref.low, ref.high), atol=0.01)


# ---------------------------------------------------------------- the CLI

JSON_KEYS = ["n_datasets", "n_learners", "alpha", "avg_ranks", "friedman_chi2", "friedman_p",
             "iman_davenport_F", "iman_davenport_p", "nemenyi_cd", "pairwise"]


def _run_json(capsys, *argv) -> dict:
    assert main([*map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_wide_and_long_agree(capsys):
    wide = _run_json(capsys, WIDE)
    assert list(wide) == JSON_KEYS
    assert _run_json(capsys, LONG) == wide
    assert (wide["n_datasets"], wide["n_learners"], wide["alpha"]) == (14, 4, 0.05)
    assert list(wide["avg_ranks"]) == LEARNERS
    assert wide["nemenyi_cd"] == pytest.approx(1.2536, abs=1e-4)
    assert len(wide["pairwise"]) == 6
    assert all(list(p) == ["a", "b", "rank_diff", "nemenyi_significant", "wilcoxon_p", "wilcoxon_p_holm"]
               for p in wide["pairwise"])
    first = wide["pairwise"][0]
    assert (first["a"], first["b"], first["wilcoxon_p"] < 0.05) == ("C4.5", "C4.5+m", True)


def test_cli_alpha_and_lower_is_better(capsys):
    higher = _run_json(capsys, WIDE, "--alpha", "0.1")
    assert higher["nemenyi_cd"] == pytest.approx(1.118, abs=1e-3)
    assert higher["pairwise"][0]["nemenyi_significant"] is True  # 1.143 >= 1.118
    lower = _run_json(capsys, WIDE, "--alpha", "0.1", "--lower-is-better")
    for name, rank in higher["avg_ranks"].items():
        assert lower["avg_ranks"][name] == pytest.approx(5 - rank)


def test_cli_human_output(capsys):
    assert main([str(WIDE)]) == 0
    out = capsys.readouterr().out
    for text in ("Average ranks", "Friedman chi2 = 9.857", "Iman-Davenport F = 3.987",
                 "Nemenyi critical difference (alpha = 0.05) = 1.254", "C4.5+m+cf"):
        assert text in out


def test_cli_reads_tsv(tmp_path, capsys):
    tsv = tmp_path / "scores.tsv"
    pd.read_csv(WIDE).to_csv(tsv, sep="\t", index=False)
    assert _run_json(capsys, tsv) == _run_json(capsys, WIDE)


def test_cli_json_has_no_infinity(tmp_path, capsys):
    path = tmp_path / "agree.csv"
    path.write_text("dataset,a,b\nx,1,0\ny,2,1\n")
    out = _run_json(capsys, path)
    assert out["iman_davenport_F"] is None and out["iman_davenport_p"] == 0.0  # F = inf


BAD_WIDE = {
    "missing": ("dataset,svm,knn\nwine,0.9,0.8\niris,,0.7\n", ["row 'iris', column 'svm': missing value"]),
    "non-numeric": ("dataset,svm,knn\nwine,0.9,0.8\niris,0.7,high\n",
                    ["row 'iris', column 'knn': not a finite number ('high')"]),
    "one learner": ("dataset,svm\nwine,0.9\niris,0.7\n", ["only 1 learner (column 'svm')"]),
    "one dataset": ("dataset,svm,knn\niris,0.9,0.8\n", ["only 1 dataset (row 'iris')"]),
    "long duplicate": ("dataset,learner,value\niris,svm,0.9\niris,knn,0.8\niris,svm,0.7\n",
                       ["row 'iris', column 'svm': given more than once (lines 2, 4)"]),
    "long missing": ("dataset,learner,value\niris,svm,0.9\niris,knn,0.8\nwine,svm,0.7\n",
                     ["row 'wine', column 'knn': missing value"]),
}


@pytest.mark.parametrize("case", sorted(BAD_WIDE))
def test_cli_bad_tables_exit_2_with_one_clear_message(case, tmp_path, capsys):
    text, expected = BAD_WIDE[case]
    path = tmp_path / "scores.csv"
    path.write_text(text)
    assert main([str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert str(path) in captured.err and len(captured.err.strip().splitlines()) == 1
    for fragment in expected:
        assert fragment in captured.err


def test_cli_missing_file(tmp_path, capsys):
    path = tmp_path / "nope.csv"
    assert main([str(path)]) == 2
    assert f"{path}: no such file" in capsys.readouterr().err


def test_stats_reads_a_run_folder(tmp_path, capsys):
    """A run folder gives each learner's mean tuned outer score in each dataset's primary metric;
    learners not scored on every dataset are left out (and said to be)."""
    rows = []
    for d, metric in (("a", "auroc"), ("b", "auprc"), ("c", "auroc")):
        for learner, base in (("x", 0.9), ("y", 0.8), ("z", 0.7), ("cnn", 0.95)):
            if learner == "cnn" and d != "a":
                continue
            for fold in range(3):
                for config, shift in (("tuned", 0.0), ("default", -0.5)):
                    for m in ("auroc", "auprc"):
                        value = base + shift + fold * 0.01 + (0.0 if m == metric else -0.6)
                        rows.append(dict(dataset=d, outer_fold=fold, learner=learner,
                                         config=config, metric=m, value=value))
    pd.DataFrame(rows).to_parquet(tmp_path / "scores.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"datasets": {"a": {"metric": "auroc"}, "b": {"metric": "auprc"}, "c": {"metric": "auroc"}}}))
    assert main([str(tmp_path), "--json"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert "cnn" in out.err and result["n_datasets"] == 3 and result["n_learners"] == 3
    ranks = result["avg_ranks"]
    assert ranks == {"x": 1.0, "y": 2.0, "z": 3.0}, ranks
