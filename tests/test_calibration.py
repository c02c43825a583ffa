"""The verdict's error rates by simulation: the new rule keeps its false positives at or below 5 %,
has no selection effect, and gains power with the true difference; the old rule's bias shows."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark import calibration as cal
from benchmark import stats

ROOT = Path(__file__).resolve().parents[1]
N_SIMS = 20000
OLD = cal.Splits("old", 3, 1)
QUICK = cal.Splits("quick", 3, 2)  # benchmark/studies/quick.yaml
FULL = cal.Splits("full", 5, 3)


def _apart(a: cal.Rate, b: cal.Rate) -> float:
    """|a - b| in Monte Carlo standard errors of the difference."""
    return abs(a.p - b.p) / math.sqrt(a.se**2 + b.se**2 + 1e-12)


# ------------------------------------------------ the model and the helpers


def test_simulated_noise_has_the_nadeau_bengio_structure():
    splits = cal.Splits("s", 4, 2)
    test, val = cal.simulate(cal.Scenario.equal(2, 1), splits, 40000, np.random.default_rng(0), fold_sd=0.0)
    noise = test[:, 0, :] - cal.SKILL
    cov = np.cov(noise, rowvar=False)
    assert np.diag(cov).mean() == pytest.approx(cal.SIGMA**2, rel=0.02)
    off = cov[~np.eye(splits.n_folds, dtype=bool)] / np.diag(cov).mean()
    assert off.mean() == pytest.approx(1 / 4, abs=0.01)  # rho = n_test / n_total = 1/k
    assert abs(np.corrcoef(noise[:, 0], val[:, 0, 0])[0, 1]) < 0.02  # validation shares no noise


def test_vectorised_helpers_are_the_stats_functions():
    scenario, splits = cal.Scenario.equal(3, 2, 0.01), cal.Splits("s", 4, 2)
    test, val = cal.simulate(scenario, splits, 40, np.random.default_rng(1))
    fams = {"classical": slice(0, 3), "deep": slice(3, 5)}
    picked = {}
    for fam, cols in fams.items():
        picked[fam] = cal.pick_by_validation(test[:, cols], val[:, cols])
        for s in range(40):
            ref = stats.nested_selection(pd.DataFrame(val[s, cols].T), pd.DataFrame(test[s, cols].T))
            np.testing.assert_array_equal(picked[fam][s], ref["test"].to_numpy())
    diffs = picked["deep"] - picked["classical"]
    probs = cal.posterior(diffs, splits.ratio)
    words = cal.new_decisions(*probs, threshold=0.6)
    for s in range(40):
        ref = stats.bayesian_correlated_ttest(diffs[s], splits.ratio, cal.ROPE)
        np.testing.assert_allclose([p[s] for p in probs], [ref.p_left, ref.p_rope, ref.p_right], rtol=1e-10)
        assert words[s] == cal.DECIDE_NAMES[stats.decide(ref, 0.6)]


def test_old_rule_picks_by_mean_test_score_and_calls_not_warranted():
    test = np.array([[[0.80, 0.90], [0.86, 0.86], [0.70, 0.99]]])  # means 0.85, 0.86, 0.845
    np.testing.assert_array_equal(cal.pick_by_test_mean(test), [[0.86, 0.86]])
    p = np.array([0.01, 0.97, 0.30, 0.01, 0.02])
    right = np.array([0.97, 0.01, 0.40, 0.60, 0.01])
    rope = 1 - p - right
    assert list(cal.old_decisions(p, rope, right)) == ["deep", "classical", "not warranted",
                                                       "inconclusive", "equivalent"]


def test_splits_refuse_impossible_designs():
    with pytest.raises(ValueError, match="need outer_folds >= 2 and repeats >= 1, got 1 and 1"):
        cal.Splits("bad", 1)


# ------------------------------------------------------------- error rates


@pytest.mark.parametrize("splits", [OLD, QUICK, FULL], ids=lambda s: s.name)
@pytest.mark.parametrize("n_classical, n_deep", [(1, 1), (6, 2), (6, 1)])
def test_new_rule_false_positive_rate_is_at_most_five_percent(splits, n_classical, n_deep):
    r = cal.error_rates(cal.Scenario.equal(n_classical, n_deep), splits, N_SIMS, seed=3)
    for key in ("new_deep", "new_classical"):
        assert r[key].p <= 0.05 + 3 * r[key].se, (key, r[key])


def test_corrected_test_is_exact_at_the_edge_of_the_rope():
    # With one learner per family the differences follow the equicorrelation model exactly
    # (the t posterior is then the sampling distribution), so a true advantage equal to the
    # rope is called "deep better" at exactly 1 - the posterior mass a winner needs.
    expected = 1 - stats.decide_levels(cal.THRESHOLD)["right"]
    r = cal.error_rates(cal.Scenario.equal(1, 1, cal.ROPE), QUICK, N_SIMS, seed=4)["new_deep"]
    assert abs(r.p - expected) <= 3 * r.se, (r, expected)


@pytest.mark.parametrize("splits", [OLD, QUICK], ids=lambda s: s.name)
def test_selection_effect_gone_under_the_new_rule_present_under_the_old(splits):
    r = cal.error_rates(cal.Scenario.equal(6, 1), splits, N_SIMS, seed=5)
    assert _apart(r["new_classical"], r["new_deep"]) <= 3, r
    assert _apart(r["old_classical"], r["old_deep"]) > 10, r  # six picks by test score beat one
    assert r["old_classical"].p > 0.05 + 3 * r["old_classical"].se
    assert r["old_classical_side"].p > 0.5  # with "not warranted", mostly classical-side calls


@pytest.mark.parametrize("splits", [QUICK, FULL], ids=lambda s: s.name)
def test_power_increases_with_the_true_difference(splits):
    rates = [cal.error_rates(cal.Scenario.equal(6, 1, d), splits, N_SIMS, seed=6)["new_deep"]
             for d in (0.0, 0.01, 0.02, 0.05)]
    for weaker, stronger in zip(rates, rates[1:]):
        assert stronger.p > weaker.p and _apart(stronger, weaker) > 3, rates


def test_more_folds_give_more_power():
    at = {s.name: cal.error_rates(cal.Scenario.equal(1, 1, 0.05), s, N_SIMS, seed=7)["new_deep"]
          for s in (OLD, QUICK, FULL)}
    assert at["old"].p < at["quick"].p < at["full"].p


# ------------------------------------------------------------------ script


def _script():
    spec = importlib.util.spec_from_file_location("bench_calibration", ROOT / "scripts" / "bench_calibration.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_reads_split_designs_from_the_studies(tmp_path):
    script = _script()
    path = tmp_path / "s.yaml"
    path.write_text("name: s\nsplits:\n  outer_folds: 3\n")
    assert script.study_splits("s", path) == cal.Splits("s", 3, 1)  # repeats defaults to 1
    path.write_text("name: s\nsplits:\n  outer_folds: 4\n  repeats: 2\n")
    assert script.study_splits("s", path) == cal.Splits("s", 4, 2)
    names = [s.name for s in script.designs()]
    assert names == ["old 3-fold", "quick", "full"]
