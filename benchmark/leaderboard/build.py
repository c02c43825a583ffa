"""Run folders in, ``index.html`` and ``leaderboard.parquet`` out."""
from __future__ import annotations

import math
from pathlib import Path

from ..report import labels
from ..report.page import embed
from ..report.tables import family_of
from . import figures, merge, ranking, table

HERE = Path(__file__).parent
REPORT = HERE.parent / "report"
CAPTIONS = {
    "cd": "Learners sit at their average rank over the datasets where every one of them was scored "
          "(1 = best, left); a thick bar joins learners the Nemenyi test does not tell apart.",
    "elo": "Bradley-Terry Elo from every head-to-head on every outer fold (each dataset weighs 1), "
           "with the 2.5% and 97.5% quantiles of refits on datasets drawn with replacement; 400 "
           "points mean 10:1 odds of winning a head-to-head.",
    "win": "Each cell: the share of datasets on which the row learner beats the column learner "
           "(fold by fold, ties half), over the datasets both were scored on.",
}


def build(run_dirs: list[Path], out: Path, use: dict[str, str] | None = None) -> Path:
    """Write ``out/index.html`` and ``out/leaderboard.parquet``; ConfigError (exit 2) for runs
    that cannot be read or merged."""
    m = merge.merge(merge.load(run_dirs), use)
    long, summary = table.long_table(m), table.tuned_summary(m)
    modalities = {d: table.modality(m, d) for d in m.chosen}
    scopes = ranking.scopes(table.oriented(long), summary, modalities)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    long.to_parquet(out / "leaderboard.parquet", index=False)
    html = render(m, long, summary, modalities, scopes)
    (out / "index.html").write_text(html, encoding="utf-8")
    return out / "index.html"


def _figures(scopes: list[ranking.Scope]) -> list[dict]:
    """Per scope: the CD diagram (the run report's drawing), Elo and win rates."""
    from ..report import figures as report_figures

    out = []
    for i, s in enumerate(scopes):
        order = list(s.elo.table.index) if s.elo is not None else []
        out.append(dict(
            cd=embed(report_figures.cd_diagram(s.across), f"fig-cd-{i}", CAPTIONS["cd"])
            if s.across.friedman is not None else None,
            elo=embed(figures.elo(s.elo), f"fig-elo-{i}", CAPTIONS["elo"]) if s.elo is not None else None,
            win=embed(figures.win_rates(s.win, order), f"fig-win-{i}", CAPTIONS["win"])
            if s.win is not None else None))
    return out


def _learner_rows(s: ranking.Scope, coverage) -> list[dict]:
    """The ranking table of one scope, by Elo."""
    if s.elo is None:
        return []
    ranks = s.across.friedman.avg_ranks if s.across.friedman is not None else {}
    win = s.win.mean(axis=1)
    col = "all" if s.name == "all datasets" else s.name
    return [dict(learner=labels.learner(n), family=family_of(n),
                 datasets=int(coverage.at[n, col]) if n in coverage.index and col in coverage else 0,
                 rank=f"{ranks[n]:.2f}" if n in ranks else "n/a",
                 elo=f"{r.elo:.0f}", interval=f"{r.low:.0f} to {r.high:.0f}",
                 win="n/a" if math.isnan(win[n]) else f"{100 * win[n]:.0f}%")
            for n, r in s.elo.table.iterrows()]


def _scope_context(s: ranking.Scope, coverage) -> dict:
    x = s.across
    dropped = ([f"datasets left out of the average ranks (incomplete): {', '.join(x.dropped_datasets)}"]
               if x.dropped_datasets else []) + (
        [f"learners left out of the average ranks (not scored on every dataset): "
         f"{', '.join(labels.learner(n) for n in x.dropped_learners)}"] if x.dropped_learners else [])
    f = x.friedman
    test = (f"Friedman χ² = {f.chi2:.2f} (tie-corrected), {f.permutation_method} permutation "
            f"p = {f.permutation_p:.3g}, over {f.n_datasets} datasets and {f.n_learners} learners; "
            f"Nemenyi CD = {x.cd:.2f} at α = 0.05." if f is not None else x.reason.replace(" in this run", ""))
    warnings = [w[0].upper() + w[1:] for w in s.warnings]
    if s.win is not None and ((s.win == 0) | (s.win == 1)).any().any():
        warnings.append("Some learners beat others on every head-to-head here: the likelihood then has "
                        "no finite maximum, and their Elo gap is set by TabArena's small ridge; read "
                        "it as \"far apart\", not as odds")
    if len(s.datasets) == 1 and s.elo is not None:
        warnings.append("One dataset: the interval cannot show how the ranking varies between datasets")
    return dict(name=s.name, datasets=s.datasets, rows=_learner_rows(s, coverage), test=test,
                dropped=dropped, warnings=warnings, gate=s.gate, reason=s.reason,
                anchor=s.elo.anchor if s.elo is not None else None)


def _runs(m: merge.Merged) -> list[dict]:
    counts = {}
    for s in m.chosen.values():
        counts[s.label] = counts.get(s.label, 0) + 1
    rows = []
    for s in m.sources:
        cfg = s.run.manifest.get("config") or {}
        splits = cfg.get("splits") or {}
        rows.append(dict(run=s.label, study=s.run.manifest.get("study", ""), when=s.when or "n/a",
                         status=s.run.manifest.get("status", "n/a"), datasets=counts.get(s.label, 0),
                         of=len(s.run.datasets), trials=(cfg.get("budget") or {}).get("trials", "n/a"),
                         folds=f"{splits.get('outer_folds', '?')} × {splits.get('repeats', 1)}"))
    return rows


def render(m, long, summary, modalities, scopes) -> str:
    """Fill the template; plotly.js and the run report's stylesheet are inlined (offline page)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    coverage = table.coverage(long, modalities)
    env = Environment(loader=FileSystemLoader(HERE), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True, undefined=StrictUndefined)
    return env.get_template("template.html.j2").render(
        plotly_js=Markup(get_plotlyjs()), css=Markup((REPORT / "report.css").read_text()),
        runs=_runs(m), datasets=table.dataset_rows(m), labels=labels,
        scopes=[_scope_context(s, coverage) for s in scopes], figs=_figures(scopes),
        coverage=coverage, left_out=table.left_out(m, summary), n_rows=len(long),
        learners=sorted(set(long["learner"])))
