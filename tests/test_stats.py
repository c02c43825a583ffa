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
    fr = stats.friedman(demsar, tie_correction=False)
    assert list(fr.avg_ranks.index) == LEARNERS
    np.testing.assert_allclose(fr.avg_ranks, [44 / 14, 28 / 14, 41 / 14, 27 / 14])
    assert (fr.n_datasets, fr.n_learners) == (14, 4)
    assert fr.chi2 == pytest.approx(9.857, abs=1e-3)
    assert fr.iman_davenport_F == pytest.approx(3.987, abs=1e-3)
    # Ties as printed: mushroom ties all four (t = 4), iris, lung cancer, primary tumor and
    # voting tie two each: C = 1 - (60 + 4 * 6) / (14 * 4 * 15) = 0.9.
    corrected = stats.friedman(demsar)
    assert corrected.chi2 == pytest.approx(fr.chi2 / 0.9, rel=1e-12)
    assert corrected.chi2 == pytest.approx(sps.friedmanchisquare(*demsar.to_numpy().T).statistic, rel=1e-12)
    assert corrected.iman_davenport_F == pytest.approx(13 * corrected.chi2 / (14 * 3 - corrected.chi2))


def test_demsar_published_figures_with_voting_tie_broken_as_in_paper(demsar):
    # Demsar's chi2_F has no tie correction (the mushroom row still ties all four learners).
    demsar.loc["voting", "C4.5+cf"] = 0.9752  # still prints as 0.975; ranked 2nd as in the paper
    fr = stats.friedman(demsar, tie_correction=False)
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


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", [False, True])
def test_friedman_matches_scipy_with_and_without_ties(seed, ties):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 3, size=(12, 5)).astype(float) if ties else rng.normal(size=(12, 5))
    fr = stats.friedman(pd.DataFrame(values, columns=list("abcde")))
    ref = sps.friedmanchisquare(*values.T)
    assert abs(fr.chi2 - ref.statistic) <= 1e-12 * max(1.0, ref.statistic)
    assert fr.p == pytest.approx(ref.pvalue, rel=1e-12)
    assert fr.iman_davenport_F == pytest.approx(11 * fr.chi2 / (12 * 4 - fr.chi2), rel=1e-12)


def _brute_force_friedman_p(values: np.ndarray) -> float:
    """Share of all within-row orderings whose scipy chi2 is >= the observed one."""
    observed = sps.friedmanchisquare(*values.T).statistic
    orders = list(itertools.permutations(range(values.shape[1])))
    stats_ = [sps.friedmanchisquare(*np.array([row[list(o)] for row, o in zip(values, combo)]).T).statistic
              for combo in itertools.product(orders, repeat=values.shape[0])]
    return float(np.mean(np.array(stats_) >= observed - 1e-9))


@pytest.mark.parametrize("values", [
    [[0.9, 0.8, 0.7], [0.85, 0.6, 0.7], [0.5, 0.4, 0.45]],
    [[0.9, 0.8, 0.8], [0.7, 0.7, 0.6], [0.5, 0.4, 0.45]],  # ties within rows
])
def test_friedman_exact_permutation_p_enumerates_every_ordering(values):
    values = np.array(values)
    fr = stats.friedman(pd.DataFrame(values, columns=list("abc")))
    assert (fr.permutation_method, fr.n_permutations) == ("exact", 6**3)
    assert fr.permutation_p == pytest.approx(_brute_force_friedman_p(values))
    assert fr.omnibus_p == fr.permutation_p


def test_friedman_monte_carlo_p_agrees_with_exact(monkeypatch):
    values = np.array([[0.9, 0.8, 0.7], [0.85, 0.6, 0.7], [0.5, 0.4, 0.45], [0.3, 0.35, 0.2]])
    table = pd.DataFrame(values, columns=list("abc"))
    exact = stats.friedman(table)
    monkeypatch.setattr(stats, "EXACT_LIMIT", 0)
    mc = stats.friedman(table, n_permutations=20000, seed=3)
    assert (exact.permutation_method, mc.permutation_method) == ("exact", "monte carlo")
    se = math.sqrt(exact.permutation_p * (1 - exact.permutation_p) / 20000)
    assert abs(mc.permutation_p - exact.permutation_p) < 4 * se
    assert mc.permutation_p == stats.friedman(table, n_permutations=20000, seed=3).permutation_p


def test_friedman_identical_rankings_never_give_p_zero():
    small = pd.DataFrame({"a": [3.0, 2.0, 5.0], "b": [2.0, 1.0, 4.0], "c": [1.0, 0.0, 3.0]})
    fr = stats.friedman(small)
    assert fr.permutation_method == "exact"
    assert fr.permutation_p == pytest.approx(6 / 6**3)  # the 6 orderings shared by all three rows
    big = pd.DataFrame(np.tile([4.0, 3.0, 2.0, 1.0], (12, 1)), columns=list("abcd"))
    fr = stats.friedman(big, n_permutations=999)
    assert fr.permutation_method == "monte carlo"
    assert fr.permutation_p == 1 / 1000  # p = (1 + count) / (1 + B) with count = 0
    assert fr.iman_davenport_F == math.inf
    assert min(fr.p, fr.iman_davenport_p, fr.permutation_p, fr.omnibus_p) > 0


def test_lower_is_better_reverses_ranks(demsar):
    higher = stats.friedman(demsar).avg_ranks
    lower = stats.friedman(demsar, lower_is_better=True).avg_ranks
    np.testing.assert_allclose(lower, 5 - higher)


def test_friedman_perfect_agreement_gives_infinite_f():
    table = pd.DataFrame({"a": [3.0, 2.0, 5.0], "b": [2.0, 1.0, 4.0], "c": [1.0, 0.0, 3.0]})
    fr = stats.friedman(table)
    assert fr.chi2 == pytest.approx(3 * 2)  # N(k-1), the maximum
    assert fr.iman_davenport_F == math.inf
    assert fr.iman_davenport_p == pytest.approx(6.0**-3)  # floored at (k!)^-N, never 0


def test_friedman_all_tied_is_no_evidence():
    fr = stats.friedman(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]}))
    assert (fr.chi2, fr.p, fr.permutation_p) == (0.0, 1.0, 1.0)


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


# --------------------------------------- what a comparison over N datasets can show


@pytest.mark.parametrize("n", range(1, 9))
def test_min_wilcoxon_p_is_scipys_exact_minimum(n):
    all_positive = np.arange(1, n + 1, dtype=float)  # every difference on one side, no ties
    exact = sps.wilcoxon(all_positive, method="exact").pvalue
    assert stats.min_wilcoxon_p(n) == pytest.approx(exact) == pytest.approx(min(1.0, 2 / 2**n))


def test_min_wilcoxon_p_refuses_no_pairs():
    with pytest.raises(ValueError, match="n must be a whole number >= 1"):
        stats.min_wilcoxon_p(0)


def test_across_warnings_wilcoxon_cannot_reach_significance_at_five_datasets():
    assert stats.min_wilcoxon_p(5) > 0.05 > stats.min_wilcoxon_p(6)
    five = stats.across_warnings(5, 2, 0.05)
    assert any("no Wilcoxon signed-rank test can reach p <= 0.05" in w and "2 / 2^5 = 0.0625" in w
               for w in five)
    assert not any("Wilcoxon" in w for w in stats.across_warnings(6, 2, 0.05))


def test_across_warnings_holm_multiplies_the_smallest_p():
    # 6 datasets: smallest p 1/32 < 0.05, but Holm over 6 pairs (k = 4) makes it 6/32 > 0.05
    text = " ".join(stats.across_warnings(6, 4, 0.05))
    assert "no Holm-adjusted Wilcoxon p can reach <= 0.05" in text and "(= 0.188)" in text


def test_across_warnings_demsar_bound_and_a_clean_case():
    assert any("only 4 learners" in w and "Demsar" in w for w in stats.across_warnings(14, 4))
    assert any("only 3 datasets and 3 learners" in w for w in stats.across_warnings(3, 3))
    assert any("Friedman test cannot reject" in w for w in stats.across_warnings(2, 3))  # 1/6 > 0.05
    assert any("Nemenyi critical difference" in w for w in stats.across_warnings(2, 3))
    assert stats.across_warnings(10, 5, 0.05) == []


def test_posthoc_gate_reads_the_omnibus_test(demsar):
    fr = stats.friedman(demsar)
    assert fr.omnibus_p < 0.05 and stats.posthoc_gate(fr, 0.05) == ""
    assert "does not reject" in stats.posthoc_gate(fr, 0.005)
    null = pd.DataFrame(np.random.default_rng(11).normal(size=(8, 4)), columns=list("abcd"))
    reason = stats.posthoc_gate(stats.friedman(null))
    assert reason.startswith("the Friedman test does not reject equal average ranks at alpha = 0.05 (")
    assert "permutation p = " in reason and "not to be read" in reason


# ------------------------------------------------------ alpha and intervals

ALPHA_CALLS = {
    "corrected_ttest": lambda a: stats.corrected_ttest([0.01, 0.02, 0.03], 0.5, alpha=a),
    "nemenyi_cd": lambda a: stats.nemenyi_cd(4, 14, a),
    "wilcoxon_holm": lambda a: stats.wilcoxon_holm(pd.DataFrame({"x": [1.0, 2, 3], "y": [0.0, 1, 1]}), alpha=a),
    "bootstrap_ci": lambda a: stats.bootstrap_ci([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.9], _accuracy, n_boot=20,
                                                 alpha=a),
    "across_warnings": lambda a: stats.across_warnings(5, 3, a),
    "posthoc_gate": lambda a: stats.posthoc_gate(
        stats.friedman(pd.DataFrame({"x": [1.0, 2, 3], "y": [0.0, 1, 1]})), a),
    "family_summary": lambda a: stats.family_summary({"d": [0.01, 0.02, 0.0]}, {"d": 0.5}, 0.01, alpha=a),
}


@pytest.mark.parametrize("alpha", [1.5, 0.0, 1.0, -0.1, float("nan")])
@pytest.mark.parametrize("name", sorted(ALPHA_CALLS))
def test_alpha_outside_zero_one_is_refused(name, alpha):
    with pytest.raises(ValueError, match=rf"^alpha must satisfy 0 < alpha < 1, got {alpha}$"):
        ALPHA_CALLS[name](alpha)


def test_nemenyi_cd_with_alpha_above_one_raises_not_nan():
    with pytest.raises(ValueError, match="alpha must satisfy 0 < alpha < 1, got 1.5"):
        stats.nemenyi_cd(4, 14, 1.5)


@pytest.mark.parametrize("alpha", [1e-6, 0.01, 0.05, 0.5, 0.99, 1 - 1e-9])
def test_intervals_never_have_low_above_high(alpha):
    d = np.random.default_rng(12).normal(0.01, 0.02, size=8)
    low, high = stats.corrected_ttest(d, 1 / 7, alpha=alpha).ci
    assert low <= high
    ci = stats.bootstrap_ci(np.tile([0, 1], 20), np.linspace(0, 1, 40), _accuracy, n_boot=50, alpha=alpha)
    assert ci.low <= ci.high


# ------------------------------------------- deep vs classical over datasets


def test_family_summary_holm_over_datasets_and_decisions():
    rng = np.random.default_rng(13)
    diffs = {"a": rng.normal(0.04, 0.01, 10), "b": rng.normal(0.0, 0.02, 10),
             "c": rng.normal(-0.05, 0.01, 6), "d": rng.normal(0.0, 0.001, 10)}
    ratios = {"a": 1 / 9, "b": 1 / 9, "c": 1 / 2, "d": 1 / 9}
    out = stats.family_summary(diffs, ratios, 0.01)
    t = out.table
    assert list(t.index) == list("abcd")
    assert list(t.columns) == ["n_folds", "mean", "t", "p", "p_holm", "rope", "p_deep", "p_rope",
                               "p_classical", "decision"]
    raw = [stats.corrected_ttest(diffs[d], ratios[d]).p for d in "abcd"]
    np.testing.assert_allclose(t["p"], raw)
    np.testing.assert_allclose(t["p_holm"], multipletests(raw, method="holm")[1])
    for d in "abcd":
        b = stats.bayesian_correlated_ttest(diffs[d], ratios[d], 0.01)
        assert (t.at[d, "p_deep"], t.at[d, "p_classical"]) == (b.p_right, b.p_left)
    assert list(t["decision"]) == ["deep", "undecided", "classical", "equivalent"]
    means = t["mean"].to_numpy()
    sr = stats.bayesian_signed_rank(means, np.zeros(4), 0.01)
    assert out.signed_rank == sr and out.note == ""
    assert out.signed_rank_decision == {"right": "deep", "left": "classical", "rope": "equivalent",
                                        "undecided": "undecided"}[stats.decide(sr)]


def test_family_summary_one_dataset_or_mixed_ropes_skip_the_signed_rank_test():
    one = stats.family_summary({"a": [0.01, 0.02, 0.03]}, {"a": 0.5}, 0.01)
    assert one.signed_rank is None and "at least 2 datasets" in one.note
    assert one.table.at["a", "p_holm"] == one.table.at["a", "p"]
    mixed = stats.family_summary({"a": [0.01, 0.02], "b": [0.5, 0.7]}, {"a": 0.5, "b": 0.5},
                                 {"a": 0.01, "b": 0.2})
    assert mixed.signed_rank is None and "different ROPEs" in mixed.note
    assert list(mixed.table["rope"]) == [0.01, 0.2]


def test_family_summary_names_the_bad_dataset():
    with pytest.raises(ValueError, match="no n_test/n_train ratio for dataset 'b'"):
        stats.family_summary({"a": [0.01, 0.02], "b": [0.01, 0.03]}, {"a": 0.5}, 0.01)
    with pytest.raises(ValueError, match="dataset 'b': differences: need a 1-d sequence of at least 2"):
        stats.family_summary({"a": [0.01, 0.02], "b": [0.01]}, {"a": 0.5, "b": 0.5}, 0.01)


# ------------------------------------------------------------- check_table


@pytest.mark.parametrize("cell, message", [
    (np.nan, "row 'iris', column 'svm': missing value; every dataset needs a score for every learner"),
    ("abc", "row 'iris', column 'svm': not a finite number ('abc')"),
    (np.inf, "row 'iris', column 'svm': not a finite number (inf)"),
    (-np.inf, "row 'iris', column 'svm': not a finite number (-inf)"),
])
def test_check_table_names_row_and_column(cell, message):
    table = pd.DataFrame({"svm": [0.9, 0.8], "knn": [0.7, 0.6]}, index=["wine", "iris"], dtype=object)
    table.loc["iris", "svm"] = cell
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        stats.check_table(table)


def test_check_table_says_inf_in_plain_words_in_a_float_table():
    table = pd.DataFrame({"svm": [0.9, np.inf], "knn": [0.7, 0.6]}, index=["wine", "iris"])
    with pytest.raises(ValueError) as err:
        stats.check_table(table)
    assert "not a finite number (inf); scores must be numeric" in str(err.value)
    assert "np.float64" not in str(err.value)


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
             "iman_davenport_F", "iman_davenport_p", "friedman_permutation_p",
             "friedman_permutation_method", "friedman_permutations", "posthoc_reason", "warnings",
             "nemenyi_cd", "pairwise"]


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
    for text in ("Average ranks", "Friedman chi2 = 10.952 (ties corrected)", "Iman-Davenport F = 4.586",
                 "Permutation p = 0.009099 (monte carlo, 10000 permutations)", "Warnings:\n  - only 4 learners",
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
    assert out["iman_davenport_F"] is None  # F = inf
    assert out["iman_davenport_p"] == 0.25 and out["friedman_permutation_p"] == 0.5  # never 0


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
