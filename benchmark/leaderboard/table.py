"""The long table a leaderboard ranks from, and what each run's own report says per dataset.

Everything per dataset is read from the run that speaks for it (:mod:`.merge`), through the run
report's own tables and analysis: the primary metric, which learners count (a tuned score on
every outer fold, as the report's ranks require), the family verdict and the best learners.
"""
from __future__ import annotations

import pandas as pd

from ..report import tables, verdict
from .merge import Merged

COLUMNS = ["dataset", "learner", "family", "fold", "metric", "value", "run"]


def tuned_summary(m: Merged) -> pd.DataFrame:
    """The report's score summary (tuned configuration, primary metric) of every chosen dataset."""
    parts = [s.analysis.tuned[s.analysis.tuned["dataset"] == d] for d, s in m.chosen.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=tables.KEYS)


def long_table(m: Merged) -> pd.DataFrame:
    """One row per dataset, learner and outer fold: the tuned outer-test score in the dataset's
    primary metric, for the learners scored on every outer fold (the others are left out, as in
    the run report's ranks, and :func:`left_out` says why)."""
    summary = tuned_summary(m)
    complete = set(map(tuple, summary.loc[summary["scored"], ["dataset", "learner"]].to_numpy()))
    rows = []
    for d, s in m.chosen.items():
        sc = s.run.scores
        sc = sc[(sc["dataset"] == d) & (sc["config"] == "tuned") & (sc["metric"] == s.run.metric(d))]
        sc = sc[[(d, n) in complete for n in sc["learner"]]]
        rows.append(pd.DataFrame({"dataset": d, "learner": sc["learner"], "family": sc["family"],
                                  "fold": sc["outer_fold"].astype(int), "metric": sc["metric"],
                                  "value": sc["value"].astype(float), "run": s.label}))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=COLUMNS)
    return out[COLUMNS].sort_values(["dataset", "learner", "fold"], ignore_index=True)


def oriented(long: pd.DataFrame) -> pd.DataFrame:
    """The long table with ``value`` turned so that higher is better (RMSE negated): what the
    statistics rank."""
    return long.assign(value=long["value"] * tables.orientation(long["metric"]))


def modality(m: Merged, dataset: str) -> str:
    return str(m.chosen[dataset].info(dataset).get("modality") or "tabular")


def dataset_rows(m: Merged) -> list[dict]:
    """Per dataset: where it comes from, the run report's family verdict, and each family's best
    tuned learner (highest mean primary metric among those scored on every fold)."""
    rows = []
    for d, s in m.chosen.items():
        a = s.analysis
        v = a.verdicts.get(d)
        c = v.equal if v is not None else None
        best = tables.best_learners(a.summary[a.summary["dataset"] == d])
        best = best[best["config"] == "tuned"].set_index("family")
        rows.append(dict(
            dataset=d, modality=modality(m, d), metric=a.metric[d], run=s.label,
            folds=s.run.n_folds(d), outcome=c.outcome if c is not None else "",
            outcome_words=verdict.outcome(c), category=verdict.category(c),
            reason=(v.reason if v is not None else "no tuned scores in this run") if c is None else "",
            mean=c.mean if c is not None else float("nan"),
            best={f: (best.at[f, "learner"], float(best.at[f, "mean"])) for f in best.index}))
    return rows


def left_out(m: Merged, summary: pd.DataFrame) -> list[dict]:
    """Everything that ran (or could have) but is not ranked, with the reason."""
    out = [dict(dataset=d, learner="(all)", run=dropped.label,
                reason=f"the same dataset also in {kept.label}: {why}")
           for d, dropped, kept, why in m.superseded]
    for d, s in m.chosen.items():
        for sd, learner, why in s.run.manifest.get("skipped", []):
            if sd == d:
                out.append(dict(dataset=d, learner=learner, run=s.label, reason=f"skipped: {why}"))
    bad = summary[~summary["scored"]]
    for r in bad.itertuples():
        what = "not scored" if r.n_scored == 0 else f"scored on {r.n_scored} of {r.n_folds} outer folds"
        out.append(dict(dataset=r.dataset, learner=r.learner, run=m.chosen[r.dataset].label,
                        reason=what + (f": {r.error}" if r.error else "")))
    return out + _not_in_study(m, summary, {(r["dataset"], r["learner"]) for r in out})


def _not_in_study(m: Merged, summary: pd.DataFrame, said: set) -> list[dict]:
    """Learners that other runs ran but the run of this dataset did not include."""
    ran = set(map(tuple, summary[["dataset", "learner"]].to_numpy()))
    learners = sorted(set(summary["learner"]))
    return [dict(dataset=d, learner=n, run=s.label, reason="not among the learners of this run's study")
            for d, s in m.chosen.items() for n in learners if (d, n) not in ran and (d, n) not in said]


def coverage(long: pd.DataFrame, modalities: dict[str, str]) -> pd.DataFrame:
    """Datasets each learner was ranked on: in all, and per modality."""
    per = long.drop_duplicates(["dataset", "learner"]).assign(modality=lambda f: f["dataset"].map(modalities))
    out = per.groupby(["learner", "modality"]).size().unstack(fill_value=0)
    out.insert(0, "all", out.sum(axis=1))
    return out
