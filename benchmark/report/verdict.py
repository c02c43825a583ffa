"""Plain-words verdicts from the comparisons: what a biologist should conclude, and how sure.

The rule: deep learning is called warranted only when the posterior probability that the best
tuned deep learner beats the best tuned classical one by more than the ROPE is at least 0.95.
It is called not warranted when that probability is below 0.5, or when the classical learner is
better or practically equivalent with probability >= 0.95; anything else is inconclusive, never a win.
"""
from __future__ import annotations

import math

from . import labels
from .comparisons import DECISIVE, Comparison, DatasetVerdict

WARRANTED = DECISIVE

OUTCOME_WORDS = {"deep": "deep better", "classical": "classical better",
                 "equivalent": "practically equivalent", "not_deep": "deep not better",
                 "unclear": "inconclusive"}
CATEGORY = {"deep": "warranted", "unclear": "inconclusive", "classical": "not warranted",
            "equivalent": "not warranted", "not_deep": "not warranted"}


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


def interval(c: Comparison) -> str:
    m = labels.metric(c.metric)
    return (f"mean difference {num(c.mean)} {m}, 95% CI {num(c.ci[0])} to {num(c.ci[1])} "
            f"over {c.n_folds} outer folds")


def p_deep_text(c: Comparison) -> str:
    return f"P({labels.learner(c.deep)} better by > {c.rope:g}) {p_is(c.p_deep)}"


def category(c: Comparison | None) -> str:
    """warranted, not warranted or inconclusive: the question the page answers."""
    return "not available" if c is None else CATEGORY[c.outcome]


def sentence(v: DatasetVerdict, unequal_budget: bool = False) -> str:
    """The headline for one dataset."""
    if v.equal is None:
        return f"No verdict on {v.dataset}: {v.reason}."
    c = v.equal
    deep, cls = labels.learner(c.deep), labels.learner(c.classical)
    if c.outcome == "deep":
        text = (f"Deep learning is warranted on {v.dataset}: the tuned {deep} beats the tuned {cls} "
                f"({interval(c)}; {p_deep_text(c)}) {cost_words(c.cost_ratio, 'deep')}.")
    elif c.outcome == "unclear":
        text = (f"The evidence on {v.dataset} is inconclusive: the tuned {deep} leads the tuned {cls} "
                f"({interval(c)}), but {p_deep_text(c)}, short of {WARRANTED}; the {cls} gets "
                f"there {cost_words(c.cost_ratio, 'classical')}.")
    else:
        how = {"classical": "better", "equivalent": "as good"}.get(c.outcome, "as good or better")
        text = (f"Deep learning is not warranted on {v.dataset}: the tuned {cls} is {how} "
                f"({p_deep_text(c)}; {interval(c)}) {cost_words(c.cost_ratio, 'classical')}.")
    if c.n_folds == 2:
        text += " With only 2 outer folds the interval is wide."
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
