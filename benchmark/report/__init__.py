"""The run report: one offline HTML page built from a run folder's stored results.

``build_report(run_dir)`` never refits: it reads ``manifest.json``, the three parquet tables and
the split files, and writes ``run_dir/index.html``.  The work is three stages, each importable on
its own so it can be timed: :func:`analysis.analyse` (tables and statistics), :func:`page.draw`
(plotly figures) and :func:`render` (the jinja2 template).
"""
from __future__ import annotations

from pathlib import Path

from .. import run_folder
from . import check_sections
from . import context, page
from .analysis import Analysis, analyse
from .run import Run, load_run

HERE = Path(__file__).parent
SECTIONS = [
    ("verdict", "Verdict"), ("budget", "Budget"), ("tuning", "Default vs tuned"),
    ("counterfactual", "Unequal-tuning counterfactual"), ("learner-pairs", "Learner against learner"),
    ("curves", "Budget curves"),
    ("across", "Across datasets"), ("metrics", "Metric panel"), ("cost", "Compute cost vs score"),
    ("pairs", "Pairs run and skipped"), ("datasets", "Dataset profiles"),
    ("manifest", "Reproducibility manifest"),
]

__all__ = ["build_report", "load_run", "analyse", "render", "Run", "Analysis"]


def build_report(run_dir: Path) -> Path:
    """Write ``run_dir/index.html`` from the stored results and return its path."""
    run = load_run(Path(run_dir))
    a = analyse(run)
    html = render(a, page.draw(a))
    path = run.dir / run_folder.REPORT
    path.write_text(html, encoding="utf-8")
    return path


def render(a: Analysis, figs: dict) -> str:
    """Fill the template; plotly.js and the stylesheet are inlined so the file stands alone."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    env = Environment(loader=FileSystemLoader(HERE), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True, undefined=StrictUndefined)
    m = a.run.manifest
    cfg = m.get("config") or {}
    checks = check_sections.context(a.run.dir, a.run.datasets)
    return env.get_template("template.html.j2").render(
        plotly_js=Markup(get_plotlyjs()), css=Markup((HERE / "report.css").read_text()),
        study=m.get("study") or a.run.dir.name, manifest_info=m, cfg=cfg, checks=checks,
        sections=check_sections.toc(SECTIONS, checks),
        datasets=a.run.datasets, figs=figs, verdicts=context.verdict_cards(a, check_sections.load(a.run.dir)),
        verdict_summary=context.verdict_summary(a), how_chosen=context.verdict.HOW_CHOSEN,
        learner_pairs=context.learner_pair_rows(a), repeats=a.run.repeats,
        budget=context.budget_rows(a), unequal=[d for d in a.run.datasets if a.unequal(d)],
        tuning=context.tuning_rows(a), counterfactual=context.counterfactual_rows(a),
        across=context.across_context(a), panels=context.metric_panels(a),
        pairs=context.pairs_matrix(a), profiles=context.profiles(a), manifest=context.manifest(a),
        hardware=context.provenance.hardware_note(m), n_learners=a.pairs["learner"].nunique())
