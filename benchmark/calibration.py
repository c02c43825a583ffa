"""How often the deep-vs-classical verdict is wrong, and how often it is right: a simulation.

A verdict rule is only as good as its error rates, and those depend on how each family's
learner is chosen and on the split design; this module measures them on data whose truth is
known.  Pure numpy/scipy, vectorised over simulations.

Model (one simulated dataset; r repeats x k outer folds, F = r k outer test folds)
---------------------------------------------------------------------------------
Outer-test score of learner j in fold f::

    test[j, f] = skill_j + fold_f + e[j, f]
    e[j, f]    = sqrt(rho) sigma z_j + sqrt(1 - rho) sigma u[j, f],   z, u ~ N(0, 1)

``fold_f`` ~ N(0, FOLD_SD^2) is shared by every learner (some test folds are harder); the
learner noise has sd ``sigma`` = 0.03 AUROC and between-fold correlation rho = n_test /
n_total = 1/k, Nadeau & Bengio's (2003) equicorrelation model: overlapping training sets make
all folds of one learner err alike, which is why the corrected t-test inflates its variance
(with rho/(1 - rho) = 1/(k - 1) = n_test/n_train the correction is exact in this model).  The
inner-validation score of learner j in fold f is ``skill_j`` + independent N(0, sigma^2)
noise: it tells learners apart as well as one test fold does, but shares no noise with the
outer test scores.

Rules compared (differences are deep - classical; rope 0.01; ratio 1/(k - 1))
-----------------------------------------------------------------------------
old   each family picks the learner with the best mean OUTER-test score over folds, then the
      Bayesian correlated t-test on the fold differences: "deep" if P(deep better by more than
      the rope) >= 0.95, "classical" if P(classical better) >= 0.95, "equivalent" if
      P(rope) >= 0.95, "not warranted" (a classical-side call) if P(deep better) < 0.5, else
      "inconclusive".  Picking by test score takes a maximum over noisy estimates of the very
      quantity being tested, and the larger family gains more from it.
new   in every fold each family picks by inner validation (:func:`benchmark.stats.nested_selection`,
      as an AutoML system would), then the same test on all r k fold differences (Bouckaert &
      Frank 2004: variance factor 1/(r k) + 1/(k - 1), df = r k - 1) read with the symmetric
      :func:`benchmark.stats.decide` at threshold 0.95 (a winner needs (1 + 0.95) / 2 = 0.975
      of the posterior, equivalence 0.95).

References: Nadeau & Bengio (2003), Machine Learning 52; Bouckaert & Frank (2004), PAKDD;
Benavoli, Corani, Demsar, Zaffalon (2017), JMLR 18; Cawley & Talbot (2010), JMLR 11 (selection
bias in model evaluation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from . import stats

SIGMA = 0.03  # sd of a learner's outer-test score, AUROC
VAL_SIGMA = 0.03  # sd of the inner-validation noise
FOLD_SD = 0.02  # sd of a test fold's difficulty, shared by all learners
SKILL = 0.85  # a learner's true AUROC under the null
ROPE = 0.01
THRESHOLD = 0.95
OLD_OUTCOMES = ("deep", "classical", "equivalent", "not warranted", "inconclusive")
NEW_OUTCOMES = ("deep", "classical", "equivalent", "undecided")
DECIDE_NAMES = {"right": "deep", "left": "classical", "rope": "equivalent", "undecided": "undecided"}


@dataclass(frozen=True)
class Splits:
    """An outer split design: ``repeats`` x ``outer_folds`` test folds."""

    name: str
    outer_folds: int
    repeats: int = 1

    def __post_init__(self):
        if self.outer_folds < 2 or self.repeats < 1:
            raise ValueError(f"{self.name}: need outer_folds >= 2 and repeats >= 1, "
                             f"got {self.outer_folds} and {self.repeats}")

    @property
    def n_folds(self) -> int:
        return self.outer_folds * self.repeats

    @property
    def ratio(self) -> float:
        """n_test / n_train of one k-fold split, 1/(k - 1)."""
        return 1 / (self.outer_folds - 1)


@dataclass(frozen=True)
class Scenario:
    """True skills of the classical and the deep family's learners."""

    classical: tuple[float, ...]
    deep: tuple[float, ...]

    @classmethod
    def equal(cls, n_classical: int, n_deep: int, deep_advantage: float = 0.0) -> "Scenario":
        """All classical learners at SKILL, every deep one ``deep_advantage`` above them."""
        return cls((SKILL,) * n_classical, (SKILL + deep_advantage,) * n_deep)


def simulate(scenario: Scenario, splits: Splits, n_sims: int, rng: np.random.Generator,
             sigma: float = SIGMA, val_sigma: float = VAL_SIGMA, fold_sd: float = FOLD_SD
             ) -> tuple[np.ndarray, np.ndarray]:
    """Outer-test and inner-validation scores, each (n_sims, learners, folds); classical first."""
    skills = np.array(scenario.classical + scenario.deep)[None, :, None]
    n_learners, n_folds = skills.shape[1], splits.n_folds
    rho = 1 / splits.outer_folds
    shared = rng.standard_normal((n_sims, n_learners, 1))
    own = rng.standard_normal((n_sims, n_learners, n_folds))
    fold = fold_sd * rng.standard_normal((n_sims, 1, n_folds))
    test = skills + fold + sigma * (np.sqrt(rho) * shared + np.sqrt(1 - rho) * own)
    val = skills + val_sigma * rng.standard_normal((n_sims, n_learners, n_folds))
    return test, val


def pick_by_validation(test: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Per simulation and fold, the test score of the learner best on validation (first on ties):
    :func:`benchmark.stats.nested_selection`, vectorised."""
    best = val.argmax(axis=1)[:, None, :]
    return np.take_along_axis(test, best, axis=1)[:, 0, :]


def pick_by_test_mean(test: np.ndarray) -> np.ndarray:
    """The fold scores of the learner with the best mean outer-test score (the old rule)."""
    best = test.mean(axis=2).argmax(axis=1)[:, None, None]
    return np.take_along_axis(test, best, axis=1)[:, 0, :]


def posterior(diffs: np.ndarray, ratio: float, rope: float = ROPE
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(left), P(rope), P(right) of :func:`benchmark.stats.bayesian_correlated_ttest`, one row
    of fold differences per simulation."""
    n = diffs.shape[1]
    mean, var = diffs.mean(axis=1), diffs.var(axis=1, ddof=1)
    scale = np.sqrt((1 / n + ratio) * var)
    p_left = sps.t.cdf(-rope, n - 1, mean, scale)
    p_right = sps.t.sf(rope, n - 1, mean, scale)
    return p_left, np.maximum(0.0, 1 - p_left - p_right), p_right


def new_decisions(p_left, p_rope, p_right, threshold: float = THRESHOLD) -> np.ndarray:
    """:func:`benchmark.stats.decide`, vectorised (its own levels), in family words."""
    probs = {"left": p_left, "rope": p_rope, "right": p_right}
    levels = stats.decide_levels(threshold)
    return np.select([probs[o] >= need for o, need in levels.items()],
                     [DECIDE_NAMES[o] for o in levels], "undecided")


def old_decisions(p_left, p_rope, p_right, threshold: float = THRESHOLD) -> np.ndarray:
    """The old verdict: like :func:`new_decisions`, but P(deep better) < 0.5 is "not warranted"."""
    return np.select([p_right >= threshold, p_left >= threshold, p_rope >= threshold, p_right < 0.5],
                     ["deep", "classical", "equivalent", "not warranted"], "inconclusive")


def verdicts(scenario: Scenario, splits: Splits, n_sims: int, seed: int = 0,
             rope: float = ROPE) -> dict[str, np.ndarray]:
    """Old and new rule's verdict on each of ``n_sims`` simulated datasets."""
    test, val = simulate(scenario, splits, n_sims, np.random.default_rng(seed))
    n_c = len(scenario.classical)
    classical, deep = slice(0, n_c), slice(n_c, None)
    old = pick_by_test_mean(test[:, deep]) - pick_by_test_mean(test[:, classical])
    new = (pick_by_validation(test[:, deep], val[:, deep])
           - pick_by_validation(test[:, classical], val[:, classical]))
    return {"old": old_decisions(*posterior(old, splits.ratio, rope)),
            "new": new_decisions(*posterior(new, splits.ratio, rope))}


@dataclass(frozen=True)
class Rate:
    """A Monte Carlo proportion and its standard error sqrt(p (1 - p) / n)."""

    p: float
    se: float

    def __str__(self) -> str:
        return f"{self.p:.3f} ± {self.se:.3f}"


def rate(outcomes: np.ndarray, *labels: str) -> Rate:
    """Share of simulations whose outcome is one of ``labels``."""
    p = float(np.isin(outcomes, labels).mean())
    return Rate(p, float(np.sqrt(p * (1 - p) / outcomes.size)))


def error_rates(scenario: Scenario, splits: Splits, n_sims: int, seed: int = 0) -> dict[str, Rate]:
    """The rates the tables print: each rule's "deep better" and "classical better", and the
    old rule's classical-side calls (classical better or "not warranted")."""
    v = verdicts(scenario, splits, n_sims, seed)
    return {"old_deep": rate(v["old"], "deep"), "old_classical": rate(v["old"], "classical"),
            "old_classical_side": rate(v["old"], "classical", "not warranted"),
            "new_deep": rate(v["new"], "deep"), "new_classical": rate(v["new"], "classical")}
