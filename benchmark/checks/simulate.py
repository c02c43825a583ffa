"""Generated datasets whose truth is known, and what the checks conclude on them.

The evidence behind the shuffled-label controls' calibration (``scripts/bench_controls.py``,
``tests/test_controls.py``): a clean dataset (no signal, no leak) must be flagged in at most
``controls.ALPHA`` of cases, and a real leak must still be flagged. Controls run through the
harness's own code (``fitting.fit``, ``fitting.predict``, ``controls.shuffled_fits``, the split
plan) with real learners at their library defaults; only Ray is left out.

Kinds of dataset:
- ``clean``: features and labels independent;
- ``signal``: a strong, legitimate signal (many shifted genes, as in a leukaemia subtype set),
  where shuffled-label refits spread wider than the null of their test fold;
- ``label_copy``: clean plus one feature that copies the label (caught by the leakage audit);
- ``duplicates``: clean with a sixth of the examples copies of others, labels and all (audit);
and one pipeline leak, ``test_rows_in_fit``: the outer test rows, with their labels, reach the
fit (a pipeline fit on all rows, an index bug), which the controls must catch.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..data.dataset import Dataset
from ..seeding import derive_seed
from . import controls, leakage

KINDS = ("clean", "signal", "label_copy", "duplicates")
LEARNERS = ("logreg", "knn")
LEGACY_TOLERANCE = 0.1  # the rule these controls replace: mean excess > 0.1 and t-test p < 0.05


def dataset(kind: str, n: int, p: int, seed: int, prevalence: float = 0.5) -> Dataset:
    """One generated binary dataset of ``kind`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation((np.arange(n) < max(3, round(prevalence * n))).astype(np.int64))
    X = rng.normal(size=(n, p))
    if kind == "signal":  # a tenth of the genes shift by one sd: near-perfectly separable
        X[:, : max(1, p // 10)] += 1.0 * y[:, None]
    elif kind == "label_copy":
        X[:, 0] = y + rng.normal(scale=0.01, size=n)
    elif kind == "duplicates":  # a sixth of the rows overwritten by copies of others
        m = n // 6
        rows = rng.choice(n, size=2 * m, replace=False)
        X[rows[m:]], y[rows[m:]] = X[rows[:m]], y[rows[:m]]
    elif kind != "clean":
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return Dataset(name=f"{kind}{seed}", task="binary", modality="tabular", y=y,
                   views={"tabular": X}, feature_names=[f"gene{j}" for j in range(p)],
                   classes=["normal", "tumour"])


def plan_for(data: Dataset, folds: int = 3, seed: int = 0):
    from ..splits import make_plan

    return make_plan(data.name, data.y, data.groups, seed=seed, outer_folds=folds)


def control_rows(data: Dataset, plan, learner: str, setting="auto", leak: str | None = None,
                 seed: int = 0) -> list[dict]:
    """``controls.parquet`` rows of one learner's shuffled-label refits on every outer fold, its
    library-default configuration standing in for the tuned one. ``leak="test_rows_in_fit"``
    fits on the training and the test rows (the test rows keep their real labels)."""
    from .. import learners
    from ..fitting import fit, predict
    from ..spaces import load_space

    module, config = learners.get(learner), load_space(learner).default_config()
    rows = []
    for k, fold in enumerate(plan.folds):
        def fit_rows(c, d, train, s, t, test=fold.test):
            extra = test if leak == "test_rows_in_fit" else train[:0]
            return fit(module, c, d, np.concatenate([train, extra]), s, t)

        n = controls.refits(setting, data.task, data.y[fold.test])
        got = controls.shuffled_fits(fit_rows, lambda m, X: predict(m, X, data.task, data.n_classes),
                                     data, fold, data.X, config, n,
                                     derive_seed(seed, data.name, k, learner), 0, 1)
        chance = controls.chance_all(data.task, data.y[fold.test], data.n_classes)
        rows += [{"dataset": data.name, "outer_fold": k, "learner": learner,
                  "family": module.FAMILY, "seed": c["seed"], "metric": m, "value": v,
                  "chance": chance[m]} for c in got for m, v in c["scores"].items()]
    return rows


def nulls(data: Dataset, plan, metric: str = "auroc") -> dict:
    return {(data.name, k): controls.fold_null(data.task, metric, data.y[f.test], data.n_classes,
                                               seed=k) for k, f in enumerate(plan.folds)}


def decide(rows: list[dict], data: Dataset, plan, tolerance: float = 0.02) -> list[dict]:
    """``controls.summarise`` of the rows, as a run's checks phase calls it (AUROC)."""
    empty = pd.DataFrame(columns=["dataset", "learner", "config", "metric", "value"])
    return controls.summarise(controls.frame(rows), empty,
                              {data.name: {"task": data.task, "metric": "auroc"}}, tolerance,
                              nulls(data, plan))


def legacy_flags(rows: list[dict]) -> bool:
    """Whether the replaced rule flags any learner: one refit per fold (the old default), mean
    excess over chance > 0.1 and a one-sided t-test p < 0.05 per learner, no correction."""
    table = pd.DataFrame(rows)
    table = table[(table["metric"] == "auroc") & (table["seed"] == 0)].dropna(subset=["value"])
    for _, g in table.groupby("learner"):
        diff = (g["value"] - g["chance"]).to_numpy()
        if len(diff) < 2 or np.ptp(diff) == 0:
            p = 0.0 if len(diff) and diff[0] > 0 else 1.0
        else:
            p = float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)
        if diff.mean() > LEGACY_TOLERANCE and p < 0.05:
            return True
    return False


def audit_problems(data: Dataset, plan) -> list[str]:
    """The leakage audit's checks at level "problem" on this dataset."""
    return [f["check"] for f in leakage.audit(data, plan) if f["level"] == "problem"]


def trial(kind: str, seed: int, n: int, p: int, learners=LEARNERS, setting="auto",
          leak: str | None = None, prevalence: float = 0.5) -> dict:
    """Everything the controls and the audit conclude on one generated dataset."""
    data = dataset(kind, n, p, seed, prevalence)
    plan = plan_for(data, seed=seed)
    rows = [r for learner in learners for r in control_rows(data, plan, learner, setting, leak, seed)]
    decided = decide(rows, data, plan)
    return {"kind": kind, "leak": leak, "seed": seed, "n": n, "p": p,
            "refits": int(np.mean([r["n"] for r in decided])) if decided else 0,
            "controls": any(r["flag"] for r in decided), "legacy": legacy_flags(rows),
            "audit": audit_problems(data, plan),
            "mean": {r["learner"]: r["mean"] for r in decided}}


def sizes(count: int, seed: int, low: int = 50, high: int = 100, features=(10, 50, 200)):
    """(n, p, prevalence) of ``count`` generated datasets: n uniform in [low, high]."""
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(low, high + 1)), int(rng.choice(features)),
             float(rng.choice([0.5, 0.35]))) for _ in range(count)]
