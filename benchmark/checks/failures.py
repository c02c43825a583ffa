"""Where models fail (Tip 9): scores per subgroup and per class, and whether the best deep and the
best classical model get the same examples wrong (McNemar's test).

A good average can hide a subgroup the model gets wrong, and two models with equal scores can
fail on different examples (then they are not interchangeable, and an ensemble may help).
Everything here works from out-of-fold test predictions, each example scored once.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar

from .. import metrics

COLUMNS = ["dataset", "role", "learner", "column", "subgroup", "n", "accuracy", "metric", "value"]
MIN_SUBGROUP = 5  # smaller subgroups are not reported: too noisy, and close to single examples


def correct(task: str, y: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
    """Per example: was the predicted class right? (None for regression: no notion of right.)"""
    if task == "regression":
        return None
    return np.asarray(pred).argmax(1) == y


def subgroup_rows(task: str, metric: str, y: np.ndarray, pred: np.ndarray,
                  columns: dict[str, np.ndarray]) -> list[dict]:
    """Accuracy (and the primary metric, where it is defined) of each subgroup of each column.

    ``columns`` maps a name to per-example values: declared metadata, plus ``class`` (the true
    class), whose rows are per-class recall.
    """
    ok = correct(task, y, pred)
    rows = []
    for name, values in columns.items():
        values = np.asarray(values).astype(str)
        for v in np.unique(values):
            mask = values == v
            if mask.sum() < MIN_SUBGROUP:
                continue
            row = {"column": name, "subgroup": v, "n": int(mask.sum()),
                   "accuracy": float(ok[mask].mean()) if ok is not None else float("nan"),
                   "metric": metric, "value": _score(task, metric, y[mask], pred[mask])}
            rows.append(row)
    return rows


def _score(task, metric, y, pred) -> float:
    if task != "regression" and len(np.unique(y)) < 2:
        return float("nan")  # AUROC and friends need both classes
    try:
        return metrics.score(task, metric, y, pred)
    except ValueError:
        return float("nan")


def mcnemar_test(ok_a: np.ndarray, ok_b: np.ndarray) -> dict:
    """McNemar's test on paired correctness; exact binomial when the discordant pairs are few."""
    both = int(np.sum(ok_a & ok_b))
    only_a, only_b = int(np.sum(ok_a & ~ok_b)), int(np.sum(~ok_a & ok_b))
    neither = int(np.sum(~ok_a & ~ok_b))
    exact = only_a + only_b < 25
    res = mcnemar(np.array([[both, only_a], [only_b, neither]]), exact=exact)
    wrong = neither + only_a + only_b
    return {"both_right": both, "only_classical": only_a, "only_deep": only_b,
            "both_wrong": neither, "p": float(res.pvalue), "exact": exact,
            "shared_errors": neither / wrong if wrong else float("nan")}


def frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def worst_subgroups(rows: pd.DataFrame, overall: dict[str, float], margin: float = 0.1
                    ) -> list[dict]:
    """Subgroups whose accuracy trails the model's overall accuracy by more than ``margin``."""
    out = []
    for r in rows.itertuples():
        base = overall.get(r.role)
        if base is not None and np.isfinite(r.accuracy) and base - r.accuracy > margin:
            out.append({"role": r.role, "learner": r.learner, "column": r.column,
                        "subgroup": r.subgroup, "n": r.n, "accuracy": r.accuracy, "overall": base})
    return out
