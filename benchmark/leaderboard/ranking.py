"""Learners ranked over a set of datasets: average ranks (Demšar), win rates and Elo (TabArena).

One :class:`Scope` per set of datasets (all of them, then each modality). Every statistic comes
from :mod:`benchmark.stats`; the average ranks and the critical difference are the run report's
own (:func:`benchmark.report.comparisons.across_datasets`), so a leaderboard over one run ranks
exactly as that run's report does.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import stats
from ..report.comparisons import Across, across_datasets

N_BOOT = 1000  # TabArena uses 100 bootstrap rounds; more cost little here and steady the quantiles
ANCHOR = "random_forest"  # TabArena pins a default random forest at 1000; here the tuned one


@dataclass(frozen=True, eq=False)
class Scope:
    name: str
    datasets: list[str]
    across: Across
    elo: stats.EloResult | None
    win: pd.DataFrame | None
    reason: str = ""  # why Elo and win rates are missing

    @property
    def gate(self) -> str:
        """Why the critical-difference diagram is not to be read (empty when it may be)."""
        f = self.across.friedman
        return stats.posthoc_gate(f, 0.05) if f is not None else ""

    @property
    def warnings(self) -> list[str]:
        f = self.across.friedman
        return stats.across_warnings(f.n_datasets, f.n_learners, 0.05) if f is not None else []


def scope(name: str, long: pd.DataFrame, summary: pd.DataFrame, datasets: list[str]) -> Scope:
    """Statistics over ``datasets``: ``long`` is oriented (higher is better), ``summary`` the
    report's tuned score summary."""
    sub = long[long["dataset"].isin(datasets)]
    across = across_datasets(summary[summary["dataset"].isin(datasets)])
    learners = sorted(set(sub["learner"]))
    if len(learners) < 2:
        return Scope(name, datasets, across, None, None,
                     f"only {len(learners)} learner scored on every outer fold here; Elo and win "
                     "rates need 2")
    anchor = ANCHOR if ANCHOR in learners else None
    return Scope(name, datasets, across, stats.elo(sub, n_boot=N_BOOT, anchor=anchor),
                 stats.win_rates(sub))


def scopes(long: pd.DataFrame, summary: pd.DataFrame, modalities: dict[str, str]) -> list[Scope]:
    """All datasets first, then one scope per modality when there are several."""
    out = [scope("all datasets", long, summary, list(modalities))]
    kinds = sorted(set(modalities.values()))
    for mod in kinds if len(kinds) > 1 else []:
        out.append(scope(mod, long, summary, [d for d, m in modalities.items() if m == mod]))
    return out
