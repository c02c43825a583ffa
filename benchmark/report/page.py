"""From an :class:`Analysis` to figures: plotly figures embedded as HTML snippets with captions.

Figures are serialised with ``plotly.io.to_json`` and drawn by one ``Plotly.newPlot`` call each;
plotly.js itself is inlined once in the head, so the page works offline.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import plotly.io as pio
from markupsafe import Markup

from . import figures, tables
from .analysis import Analysis

PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}
CONFIG_JSON = json.dumps(PLOT_CONFIG)

CAPTIONS = {
    "verdict": "Each dot is the mean outer-fold difference deep − classical in the dataset's primary "
               "metric (right of zero: deep better), the bar its 95% corrected-t interval, the grey band "
               "the ROPE: a bar inside the band means practically equivalent.",
    "counterfactual": "Black is the equal-budget comparison; orange and blue show what tuning only one "
                      "family would have suggested; where they fall on another side of the grey ROPE band "
                      "than black, unequal tuning would have changed the conclusion.",
    "dumbbell": "Hollow marker: the library default; filled marker: the tuned configuration, both scored "
                "on the outer test folds; the grey bar between them is what tuning bought.",
    "curves": "Solid lines: expected best inner-validation score after n completed trials (Dodge et al. "
              "2019), shaded from the 10th to the 90th percentile over random trial orders (default "
              "first); dashed steps: outer test score of the best-so-far configuration after n trials run, "
              "averaged over folds; a curve still rising at the right edge means the budget was too small.",
    "cd": "Learners sit at their average rank over datasets (1 = best, left); learners joined by a thick "
          "black bar are not significantly different by the Nemenyi test (their ranks differ by less than "
          "the critical difference CD drawn above the axis).",
    "pairwise": "Left: Holm-adjusted Wilcoxon signed-rank p-values over datasets (dark = small p); right: "
                "average rank of the row learner minus the column learner (negative: row ranks better), "
                "starred when beyond the Nemenyi CD.",
    "cost": "Each marker is a learner at its summed trial and refit seconds (log scale) and its tuned "
            "score; outlined markers joined by the dotted line form the Pareto front, learners that no "
            "other learner beats on both cost and score.",
}


@dataclass(frozen=True)
class Fig:
    id: str
    html: Markup
    caption: str


def embed(fig, fig_id: str, caption: str) -> Fig | None:
    """A div and one script; ``</`` is escaped so no label can close the script early."""
    if fig is None:
        return None
    spec = pio.to_json(fig, validate=False, remove_uids=True).replace("</", "<\\/")
    height = int(fig.layout.height or 400)
    draw = f'Plotly.newPlot("{fig_id}",f.data,f.layout,{CONFIG_JSON});'
    html = (f'<div id="{fig_id}" class="plot" style="height:{height}px"></div>\n'
            f'<script>(function(){{var f={spec};{draw}}})();</script>')
    return Fig(fig_id, Markup(html), caption)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


def draw(a: Analysis) -> dict:
    """Every figure of the page, keyed by section (per-dataset figures in dicts)."""
    vs = [a.verdicts[d] for d in a.run.datasets if d in a.verdicts]
    out = {"verdict": embed(figures.forest(vs, counterfactual=False), "fig-verdict", CAPTIONS["verdict"]),
           "counterfactual": embed(figures.forest(vs), "fig-counterfactual", CAPTIONS["counterfactual"]),
           "dumbbell": {}, "curves": {}, "cost": {}, "cd": None, "pairwise": None}
    for i, d in enumerate(a.run.datasets):
        m, slug = a.metric[d], f"{i}-{_slug(d)}"  # the index keeps ids unique
        dvt = a.dvt[a.dvt["dataset"] == d]
        if len(dvt):
            out["dumbbell"][d] = embed(figures.dumbbell(dvt, m, tables.orient(m) > 0),
                                       f"fig-tuning-{slug}", CAPTIONS["dumbbell"])
        if len(a.val_curves[d]) or len(a.test_curves[d]):
            out["curves"][d] = embed(figures.budget_curves(a.val_curves[d], a.test_curves[d], m),
                                     f"fig-curves-{slug}", CAPTIONS["curves"])
        cost = a.cost[a.cost["dataset"] == d]
        if cost["scored"].any():
            out["cost"][d] = embed(figures.cost_pareto(cost, m, tables.orient(m) > 0),
                                   f"fig-cost-{slug}", CAPTIONS["cost"])
    if a.across.friedman is not None:
        out["cd"] = embed(figures.cd_diagram(a.across), "fig-cd", CAPTIONS["cd"])
        out["pairwise"] = embed(figures.pairwise(a.across), "fig-pairwise", CAPTIONS["pairwise"])
    return out
