"""Rows for the template: every table of the page as plain dicts of display strings.

Formatting lives here, not in the template, so the template stays a layout and the numbers
on the page can be checked in Python.
"""
from __future__ import annotations

import math

import numpy as np

from .. import stats
from . import labels, provenance, tables, verdict
from .analysis import Analysis


def fmt(x, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}f}"


def pm(mean, sd) -> str:
    if mean is None or not np.isfinite(mean):
        return "n/a"
    return f"{mean:.3f} ± {sd:.3f}" if sd is not None and np.isfinite(sd) else f"{mean:.3f}"


def verdict_cards(a: Analysis, checks: dict | None = None) -> list[dict]:
    """One card per dataset: the sentence, its tone, the ROPE it used, and the checks at level
    "problem" that qualify it (each linked to its finding)."""
    cards = []
    for d in a.run.datasets:
        v = a.verdicts.get(d)
        gates = problem_checks(checks, d)
        if v is None:
            cards.append(dict(dataset=d, tone="none", rope="", gates=gates,
                              text=f"No verdict on {d}: no outer test scores were stored."))
            continue
        text = verdict.sentence(v, a.unequal(d), a.run.repeats)
        if v.equal is None:
            text = text[:-1] + _skipped_note(a, d) + "."
        tone = {"warranted": "warranted", "not warranted": "not", "inconclusive": "unclear"}.get(
            verdict.category(v.equal), "none")
        cards.append(dict(dataset=d, tone=tone, text=text, rope=v.rope_note, gates=gates))
    return cards


def problem_checks(checks: dict | None, dataset: str) -> list[dict]:
    """The dataset's findings at level "problem": they qualify its verdict (README, "Checks that
    gate the verdict"), with the anchor of the finding in the checks sections."""
    entry = ((checks or {}).get("datasets") or {}).get(dataset) or {}
    from .check_sections import anchor

    return [dict(title=f["title"], check=f["check"], href="#" + anchor(dataset, f["check"]))
            for f in entry.get("findings", []) if f.get("level") == "problem"]


def verdict_summary(a: Analysis) -> dict:
    """The line across datasets: outcome counts, Holm over datasets, the signed-rank test."""
    s = a.verdict_summary
    n = int(sum(s.counts.values()))
    if not n:
        return dict(available=False, text="")
    words = {"deep": "deep better", "classical": "classical better",
             "equivalent": "practically equivalent", "undecided": "undecided"}
    counts = ", ".join(f"{s.counts[k]} {w}" for k, w in words.items())
    text = f"Across {n} dataset{'s' if n != 1 else ''}: {counts}."
    if n >= 2:
        alive = s.table[s.table["p_holm"] < 0.05]
        named = ", ".join(f"{r.dataset} ({verdict.num(r.mean)})" for r in alive.itertuples())
        text += (f" Corrected t-tests with Holm's adjustment over the {n} datasets: "
                 + (f"a family difference remains significant at 0.05 on {named}." if len(alive)
                    else "no family difference remains significant at 0.05."))
    if s.signed_rank is not None:
        r = s.signed_rank
        text += (f" Bayesian signed-rank test over the datasets' mean differences (ROPE {s.rope:g}): "
                 f"P(deep better) {verdict.p_is(r.p_right)}, P(equivalent) {verdict.p_is(r.p_rope)}, "
                 f"P(classical better) {verdict.p_is(r.p_left)}.")
    return dict(available=True, text=text)


def learner_pair_rows(a: Analysis) -> list[dict]:
    """Per dataset: every tuned deep learner against every tuned classical learner, Holm-adjusted."""
    blocks = []
    for d in a.run.datasets:
        v = a.verdicts.get(d)
        if v is None or v.pairs is None or not len(v.pairs):
            continue
        rows = [dict(deep=labels.learner(r.deep), classical=labels.learner(r.classical),
                     diff=verdict.num(r.mean), ci=f"{verdict.num(r.ci_low)} to {verdict.num(r.ci_high)}",
                     p=verdict.prob(r.p), p_holm=verdict.prob(r.p_holm),
                     p_deep=verdict.prob(r.p_deep), p_rope=verdict.prob(r.p_rope),
                     p_classical=verdict.prob(r.p_classical), outcome=verdict.OUTCOME_WORDS[r.outcome])
                for r in v.pairs.itertuples()]
        blocks.append(dict(dataset=d, metric=labels.metric(v.metric), rows=rows))
    return blocks


def _skipped_note(a: Analysis, dataset: str) -> str:
    s = a.pairs[(a.pairs["dataset"] == dataset) & (a.pairs["status"] == "skipped")]
    if not len(s):
        return ""
    notes = [f"{labels.learner(r.learner)} skipped: {r.reason}" for r in s.itertuples()]
    return " (" + "; ".join(notes) + ")"


def counterfactual_rows(a: Analysis) -> list[dict]:
    """Per dataset: the three comparisons with difference, interval, P(deep better) and outcome."""
    blocks = []
    for d in a.run.datasets:
        v = a.verdicts.get(d)
        if v is None:
            continue
        rows = []
        for key, label in (("equal", "equal budget: both tuned"),
                           ("deep_tuned_vs_classical_default", "deep tuned vs classical default"),
                           ("deep_default_vs_classical_tuned", "deep default vs classical tuned")):
            c = getattr(v, key)
            rows.append(dict(label=label, key=key, available=c is not None,
                             deep=verdict.picks_text(c.deep_picks) if c else "",
                             classical=verdict.picks_text(c.classical_picks) if c else "",
                             diff=verdict.num(c.mean) if c else "n/a",
                             ci=f"{verdict.num(c.ci[0])} to {verdict.num(c.ci[1])}" if c else "n/a",
                             p_deep=verdict.prob(c.p_deep) if c else "n/a", outcome=verdict.outcome(c),
                             category=verdict.category(c),
                             differs=c is not None and verdict.category(c) != verdict.category(v.equal)))
        blocks.append(dict(dataset=d, metric=labels.metric(v.metric), sentence=verdict.counterfactual(v),
                           rope=f"{v.rope:.3g}", rows=rows))
    return blocks


def _in_study_order(a: Analysis, frame, *by: str):
    """Rows sorted by the study's dataset order, then by ``by``."""
    rank = {d: i for i, d in enumerate(a.run.datasets)}
    return frame.assign(_o=frame["dataset"].map(rank)).sort_values(["_o", *by]).drop(columns="_o")


def budget_rows(a: Analysis) -> list[dict]:
    return [dict(dataset=r.dataset, learner=labels.learner(r.learner), family=r.family, folds=r.folds,
                 trials=r.trials, complete=r.complete, failed=r.failed,
                 seconds=labels.seconds(r.seconds),
                 error=r.top_error, short=bool(r.short), unequal=not r.equal, fixed=bool(r.fixed))
            for r in _in_study_order(a, a.budget, "family", "learner").itertuples()]


def tuning_rows(a: Analysis) -> list[dict]:
    """What tuning bought; a failed tuned fit is shown with its error, never scored."""
    errs = a.summary.set_index(["dataset", "learner", "config"])
    reads = tables.tuned_representations(a.run.scores, a.run.trials)
    fixed = {tuple(p) for p in a.run.manifest.get("no_hyperparameters", [])}
    rows = []
    for r in _in_study_order(a, a.dvt, "family", "learner").itertuples():
        cell, failed, none = {}, {}, (r.dataset, r.learner) in fixed
        for cfg in ("default", "tuned"):
            key = (r.dataset, r.learner, cfg)
            info = errs.loc[key] if key in errs.index else None
            if info is not None and not info["scored"]:
                lost = info["n_folds"] - info["n_scored"]
                why = f": {info['error']}" if info["error"] else ""
                cell[cfg] = f"failed on {lost} of {info['n_folds']} folds{why}"
                failed[cfg] = True
            else:
                cell[cfg] = pm(getattr(r, f"{cfg}_mean"), getattr(r, f"{cfg}_sd"))
        rows.append(dict(dataset=r.dataset, learner=labels.learner(r.learner), family=r.family,
                         metric=labels.metric(r.metric), default=cell["default"], tuned=cell["tuned"],
                         default_failed=failed.get("default", False),
                         tuned_failed=failed.get("tuned", False),
                         reads=representation_text(reads.get((r.dataset, r.learner))),
                         gain="no hyper-parameters" if none
                         else verdict.num(r.gain) if np.isfinite(r.gain) else "n/a",
                         gain_sign=0 if none or not np.isfinite(r.gain) else int(np.sign(round(r.gain, 6)))))
    return rows


def representation_text(counts: dict | None) -> str:
    """What the tuned configurations read: "one-hot sequence (flattened) in 7 folds, 3-mer counts in 1"."""
    from ..data.views import label

    if not counts:
        return ""
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{label(k)} in {n} fold{'s' if n != 1 else ''}" for k, n in order)


def metric_panels(a: Analysis) -> list[dict]:
    """Per dataset: learners x metrics (tuned, mean ± sd), best per metric and primary marked."""
    blocks = []
    for d in a.run.datasets:
        long = tables.metric_panel(a.run.scores, d)
        if not len(long):
            continue
        task = (a.run.manifest.get("datasets", {}).get(d) or {}).get("task", "")
        present = set(long["metric"])
        cols = [m for m in labels.panel(task) if m in present] + sorted(
            present - set(labels.panel(task)) - {"accuracy"})
        if a.metric[d] not in cols and a.metric[d] in present:
            cols.insert(0, a.metric[d])
        tuned = a.tuned[a.tuned["dataset"] == d].set_index("learner")
        best = {m: _best(long[long["metric"] == m], m) for m in cols}
        rows = []
        for learner in sorted(set(long["learner"]), key=lambda n: (tables.family_of(n), n)):
            g = long[long["learner"] == learner].set_index("metric")
            cells = [dict(text=pm(g.at[m, "mean"], g.at[m, "sd"]) if m in g.index else "n/a",
                          best=best[m] == learner, primary=m == a.metric[d]) for m in cols]
            note = ""
            if learner in tuned.index and not tuned.at[learner, "scored"]:
                t = tuned.loc[learner]
                note = (f"tuned fit failed on {t['n_folds'] - t['n_scored']} of {t['n_folds']} folds; "
                        "means are over the folds that succeeded and the learner is not ranked")
            rows.append(dict(learner=labels.learner(learner), family=tables.family_of(learner),
                             cells=cells, note=note))
        blocks.append(dict(dataset=d, columns=[dict(name=labels.metric(m), primary=m == a.metric[d],
                                                     arrow="↑" if tables.orient(m) > 0 else "↓")
                                                for m in cols], rows=rows))
    return blocks


def _best(frame, metric: str) -> str | None:
    ok = frame.dropna(subset=["mean"])
    if not len(ok):
        return None
    return ok.loc[(ok["mean"] * tables.orient(metric)).idxmax(), "learner"]


def across_context(a: Analysis) -> dict:
    """Rank table, Friedman / Iman-Davenport line and what was left out of the comparison."""
    x = a.across
    left_out = []
    if x.dropped_datasets:
        left_out.append("datasets left out (incomplete): " + ", ".join(x.dropped_datasets))
    if x.dropped_learners:
        left_out.append("learners left out (not scored on every dataset): "
                        + ", ".join(labels.learner(n) for n in x.dropped_learners))
    if x.friedman is None:
        return dict(available=False, reason=x.reason, left_out=left_out)
    order = list(x.friedman.avg_ranks.sort_values().index)
    rows = [dict(dataset=d, metric=labels.metric(a.metric.get(d, "")),
                 ranks=[f"{x.ranks.at[d, n]:g}" for n in order])
            for d in sorted(x.ranks.index, key=lambda n: (a.run.datasets + [n]).index(n))]
    f = x.friedman
    perm = (f"; {f.permutation_method} permutation p = {f.permutation_p:.3g}"
            if math.isfinite(f.permutation_p) else "")
    test = (f"Friedman χ² = {f.chi2:.2f} with the tie correction of scipy's friedmanchisquare "
            f"(χ² approximation p = {f.p:.3g}); Iman-Davenport F = {f.iman_davenport_F:.2f} "
            f"(p = {f.iman_davenport_p:.3g}){perm}; over {f.n_datasets} datasets and {f.n_learners} "
            f"learners; Nemenyi CD = {x.cd:.2f} at α = 0.05.")
    gate = stats.posthoc_gate(f, 0.05)
    warnings = [w[0].upper() + w[1:] for w in stats.across_warnings(f.n_datasets, f.n_learners, 0.05)]
    return dict(available=True, reason="", left_out=left_out, warnings=warnings,
                gate=(gate[0].upper() + gate[1:] + ": the critical-difference diagram and the pairwise "
                      "Wilcoxon-Holm matrix are greyed.") if gate else "",
                order=[labels.learner(n) for n in order],
                families=[tables.family_of(n) for n in order], rows=rows,
                avg=[f"{f.avg_ranks[n]:.2f}" for n in order], test=test)


def pairs_matrix(a: Analysis) -> dict:
    """Datasets x learners: ran, or skipped with the reason."""
    p = a.pairs
    learners = sorted(set(p["learner"]), key=lambda n: (tables.family_of(n), n))
    rows = []
    for d in sorted(set(p["dataset"]), key=lambda n: (a.run.datasets + [n]).index(n)):
        sub = p[p["dataset"] == d].set_index("learner")
        rows.append(dict(dataset=d, cells=[dict(status=sub.at[n, "status"] if n in sub.index else "",
                                                reason=sub.at[n, "reason"] if n in sub.index else "")
                                           for n in learners]))
    skipped = [dict(dataset=r.dataset, learner=labels.learner(r.learner), reason=r.reason)
               for r in p[p["status"] == "skipped"].itertuples()]
    return dict(learners=[labels.learner(n) for n in learners],
                families=[tables.family_of(n) for n in learners], rows=rows, skipped=skipped)


def profiles(a: Analysis) -> dict:
    """Fields as rows and datasets as columns, so datasets are compared at a glance."""
    info = a.run.manifest.get("datasets") or {}
    per = [provenance.profile(d, {**(info.get(d) or {}), "metric": a.metric[d]}) for d in a.run.datasets]
    fields = [k for k, _ in per[0]] if per else []
    return dict(datasets=a.run.datasets, rows=[(f, [dict(p)[f] for p in per]) for f in fields])


def manifest(a: Analysis) -> dict:
    m = a.run.manifest
    return dict(rows=provenance.manifest_rows(m), versions=provenance.versions(m),
                splits=provenance.split_hashes(m))
