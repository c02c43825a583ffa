"""Plain-words verdicts from the comparisons: what a biologist should conclude, and how sure.

Each family (classical, deep) acts as one AutoML system: in every outer fold it picks its learner
and configuration by inner-validation score alone, and only that pick meets the outer test fold,
so no selection touches the folds the verdict is tested on. The rule is symmetric with four
outcomes from the Bayesian correlated t-test (:func:`benchmark.stats.decide`): deep better by
more than the ROPE (deep learning warranted) or classical better by more than the ROPE, each
needing P >= 0.975 (the 95% interval wholly beyond the ROPE), or practically equivalent, needing
P >= 0.95 (both: not warranted); anything else is undecided.
"""
from __future__ import annotations

import math

from . import labels
from .comparisons import DECISIVE, Comparison, DatasetVerdict

WARRANTED = DECISIVE
WINNER = (1 + DECISIVE) / 2  # a winner is two-sided: each side gets half of the 5 %

OUTCOME_WORDS = {"deep": "deep better", "classical": "classical better",
                 "equivalent": "practically equivalent", "undecided": "undecided"}
CATEGORY = {"deep": "warranted", "undecided": "inconclusive", "classical": "not warranted",
            "equivalent": "not warranted"}
HOW_CHOSEN = ("Each family chose its learner and configuration in every outer fold by inner-validation "
              "score alone, like an AutoML system; the outer test folds only scored that choice.")


def num(x: float, digits: int = 3) -> str:
    """A signed number with a real minus sign, or n/a."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:+.{digits}f}".replace("-", "−")


def prob(p: float) -> str:
    """A probability; three decimals near the 0.95 threshold so rounding never hides a miss."""
    if not math.isfinite(p):
        return "n/a"
    if p < 0.005:
        return "< 0.01"
    if p > 0.995:
        return "> 0.99"
    if not 0.94 <= p < 0.96:
        return f"{p:.2f}"
    return f"{p:.4f}" if f"{p:.3f}" == "0.950" else f"{p:.3f}"


def p_is(p: float) -> str:
    text = prob(p)
    return text if text[0] in "<>" else f"= {text}"


def cost_words(ratio: float, subject: str) -> str:
    """Compute of the deep learner relative to the classical one, phrased for ``subject``."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "at an unmeasured compute cost"
    if 1 / 1.5 < ratio < 1.5:
        return "at about the same compute"
    if subject == "classical":
        if ratio >= 1.5:
            return f"at 1/{ratio:.0f} of the compute"
        return f"although it needed {1 / ratio:.0f}× the compute"
    return f"at {ratio:.0f}× the compute" if ratio >= 1.5 else f"at 1/{1 / ratio:.0f} of the compute"


def folds_text(n: int, repeats: int = 1) -> str:
    if repeats > 1 and n % repeats == 0:
        return f"{n} outer folds ({n // repeats} folds × {repeats} repeats)"
    return f"{n} outer folds"


def interval(c: Comparison, repeats: int = 1) -> str:
    m = labels.metric(c.metric)
    return (f"mean difference {num(c.mean)} {m}, 95% CI {num(c.ci[0])} to {num(c.ci[1])} "
            f"over {folds_text(c.n_folds, repeats)}")


def picks_text(picks) -> str:
    """"1D CNN in 7 folds, MLP in 3": what a family chose, most frequent first."""
    parts = [f"{labels.learner(name)} in {n} fold{'s' if n != 1 else ''}" for name, n in picks]
    return ", ".join(parts) if parts else "no learner"


def probabilities(c: Comparison) -> str:
    return (f"P(deep better by > {c.rope:g}) {p_is(c.p_deep)}, P(practically equivalent) "
            f"{p_is(c.p_rope)}, P(classical better by > {c.rope:g}) {p_is(c.p_classical)}")


def category(c: Comparison | None) -> str:
    """warranted, not warranted or inconclusive: the question the page answers."""
    return "not available" if c is None else CATEGORY[c.outcome]


def sentence(v: DatasetVerdict, unequal_budget: bool = False, repeats: int = 1) -> str:
    """The headline for one dataset."""
    if v.equal is None:
        return f"No verdict on {v.dataset}: {v.reason}."
    c = v.equal
    sides = (f"the deep family (picked {picks_text(c.deep_picks)}) and the classical family "
             f"(picked {picks_text(c.classical_picks)})")
    facts = f"{interval(c, repeats)}; {probabilities(c)}"
    if c.outcome == "deep":
        text = (f"Deep learning is warranted on {v.dataset}: the deep family beats the classical family "
                f"by more than the ROPE ({facts}) {cost_words(c.cost_ratio, 'deep')}; {sides}.")
    elif c.outcome == "classical":
        text = (f"Deep learning is not warranted on {v.dataset}: the classical family is better by more "
                f"than the ROPE ({facts}) {cost_words(c.cost_ratio, 'classical')}; {sides}.")
    elif c.outcome == "equivalent":
        text = (f"Deep learning is not warranted on {v.dataset}: the two families are practically "
                f"equivalent ({facts}); the classical family gets there "
                f"{cost_words(c.cost_ratio, 'classical')}; {sides}.")
    else:
        text = (f"Undecided on {v.dataset}: neither family is better by more than the ROPE with "
                f"P ≥ {WINNER:g}, nor are they practically equivalent with P ≥ {WARRANTED:g} ({facts}); "
                f"more data or more outer folds would be needed to decide; {sides}.")
    if c.n_folds < 5:
        text += f" With only {c.n_folds} outer folds the interval is wide."
    if unequal_budget:
        text += (" Caution: the learners did not all get the same number of trials here "
                 "(see the budget table).")
    return text


def outcome(c: Comparison | None) -> str:
    return "not available" if c is None else OUTCOME_WORDS[c.outcome]


def counterfactual(v: DatasetVerdict) -> str:
    """What unequal tuning would have concluded, beside the equal-budget conclusion."""
    if v.equal is None:
        return f"No comparison on {v.dataset}: {v.reason}."
    fair = category(v.equal)
    text = f"With equal budgets, deep learning is {fair} on {v.dataset} ({num(v.equal.mean)})."
    for c, what in ((v.deep_tuned_vs_classical_default, "Tuning only the deep learners"),
                    (v.deep_default_vs_classical_tuned, "Tuning only the classical learners")):
        if c is None:
            continue
        said = category(c)
        if said == fair:
            text += f" {what} would have reached the same conclusion ({num(c.mean)})."
        else:
            text += f" {what} would have made it look {said} ({num(c.mean)}): a different conclusion."
    return text
