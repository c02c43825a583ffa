"""Everything the page states, computed once from the run: tables first, then statistics.

Kept apart from drawing and HTML so that each stage can be timed and tested on its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import comparisons, tables
from .comparisons import Across, DatasetVerdict, VerdictSummary
from .run import Run


@dataclass(frozen=True, eq=False)
class Analysis:
    run: Run
    metric: dict[str, str]  # dataset -> primary metric
    budget: pd.DataFrame
    summary: pd.DataFrame  # primary metric, default and tuned
    dvt: pd.DataFrame
    verdicts: dict[str, DatasetVerdict]
    across: Across
    val_curves: dict[str, pd.DataFrame]
    test_curves: dict[str, pd.DataFrame]
    cost: pd.DataFrame
    pairs: pd.DataFrame
    verdict_summary: VerdictSummary

    @property
    def tuned(self) -> pd.DataFrame:
        return self.summary[self.summary["config"] == "tuned"]

    def unequal(self, dataset: str) -> bool:
        b = self.budget[self.budget["dataset"] == dataset]
        return bool(len(b)) and not bool(b["equal"].all())


def analyse(run: Run) -> Analysis:
    """Tables, per-dataset verdicts, ranks across datasets and budget curves."""
    metric = {d: run.metric(d) for d in run.datasets}
    folds = tables.folds_per_dataset(run.scores, run.trials)
    summary = tables.score_summary(run.scores, metric, folds)
    verdicts = {d: comparisons.dataset_verdict(run.scores, run.trials, summary, d, metric[d],
                                               run.ratios.get(d, 0.5))
                for d in run.datasets if d in set(summary["dataset"])}
    tuned = summary[summary["config"] == "tuned"]
    val, test = {}, {}
    for d in run.datasets:
        trials = run.trials[run.trials["dataset"] == d]
        val[d] = comparisons.validation_curves(trials, metric[d])
        curves = run.curves[(run.curves["dataset"] == d) & (run.curves["metric"] == metric[d])]
        n_trials = (trials.groupby("learner")["trial"].max() + 1).to_dict()
        test[d] = tables.outer_curve(curves, n_trials)
    fixed = {tuple(p) for p in run.manifest.get("no_hyperparameters", [])}
    return Analysis(run, metric, tables.budget_table(run.trials, fixed), summary,
                    tables.default_vs_tuned(summary), verdicts, comparisons.across_datasets(tuned),
                    val, test, tables.cost_table(run.trials, run.fits, tuned),
                    tables.pairs_table(run.manifest, run.trials),
                    comparisons.summarise_verdicts(verdicts))
