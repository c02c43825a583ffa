"""Plotly figures built from the summaries; no statistics are computed here.

Every learner keeps one colour (see :mod:`labels`) and deep learners use diamond markers, so
figures read the same way in colour, in grey print and for colour-blind readers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import labels
from .comparisons import Across, DatasetVerdict
from .tables import family_of

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
ROPE_FILL = "rgba(120,120,120,0.15)"


def _style(fig: go.Figure, height: int, **layout) -> go.Figure:
    """One look for every figure: white, light grid, readable type, legend below."""
    layout = {"margin": dict(l=10, r=10, t=40, b=10), **layout}
    fig.update_layout(template="simple_white", height=height, font=dict(family=FONT, size=13),
                      hoverlabel=dict(font_size=12),
                      legend=dict(orientation="h", yanchor="top", y=-min(0.5, 75 / height), x=0),
                      **layout)
    fig.update_shapes(opacity=1)
    fig.update_xaxes(showgrid=True, gridcolor="#eee", automargin=True)
    fig.update_yaxes(showgrid=True, gridcolor="#eee", automargin=True)
    return fig


TIME_TICKS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 18000,
              36000, 86400, 172800, 432000]


def log_ticks(low: float, high: float, fmt=lambda v: f"{v:g}", candidates=None) -> dict:
    """Round ticks spanning [low, high] on a log axis (1-2-5, or clock-like for durations),
    instead of plotly's crowded minor labels."""
    low, high = max(low, 1e-3), max(high, low * 1.01)
    if candidates is None:
        candidates = [m * 10.0**e for e in range(int(np.floor(np.log10(low))),
                                                 int(np.ceil(np.log10(high))) + 1) for m in (1, 2, 3, 5)]
    vals = [v for v in candidates if low / 1.5 <= v <= high * 1.5]
    return dict(tickvals=vals, ticktext=[fmt(v) for v in vals], minor=dict(showgrid=False))


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def _hover(what: str, name: str) -> str:
    return f"n=%{{x}}: {what} %{{y:.3f}}<extra>{name}</extra>"


def _name(learner: str) -> str:
    return labels.learner(learner) + (" (deep)" if family_of(learner) == "deep" else "")


def _marker(learner: str, size: int = 10, **kw) -> dict:
    fam = family_of(learner)
    return dict(color=labels.color(learner, fam), symbol=labels.SYMBOLS[fam], size=size, **kw)


def forest(verdicts: list[DatasetVerdict], counterfactual: bool = True) -> go.Figure | None:
    """Oriented differences with 95 % CIs, one panel per dataset, the ROPE shaded."""
    shown = [v for v in verdicts if v.equal is not None]
    if not shown:
        return None
    kinds = [("equal", "both tuned (equal budget)", "#000000")]
    if counterfactual:
        kinds += [("deep_tuned_vs_classical_default", "deep tuned vs classical default", "#D55E00"),
                  ("deep_default_vs_classical_tuned", "deep default vs classical tuned", "#0072B2")]
    height = 90 + (80 + 45 * len(kinds)) * len(shown)
    fig = make_subplots(rows=len(shown), cols=1, vertical_spacing=min(0.3, 80 / height),
                        subplot_titles=[f"{v.dataset} ({labels.metric(v.metric)})" for v in shown])
    for row, v in enumerate(shown, start=1):
        for key, label, col in kinds:
            c = getattr(v, key)
            if c is None:
                continue
            y = f"{label}<br><sub>deep family − classical family</sub>"
            fig.add_trace(go.Scatter(
                x=[c.mean], y=[y], mode="markers", marker=dict(color=col, size=11),
                error_x=dict(type="data", symmetric=False, array=[c.ci[1] - c.mean],
                             arrayminus=[c.mean - c.ci[0]], color=col, thickness=2),
                name=label, legendgroup=key, showlegend=row == 1,
                hovertemplate=f"{label}: %{{x:.3f}}<extra>{v.dataset}</extra>"), row=row, col=1)
        fig.add_vrect(x0=-v.rope, x1=v.rope, fillcolor=ROPE_FILL, line_width=0, row=row, col=1)
        fig.add_vline(x=0, line=dict(color="#555", width=1), row=row, col=1)
        last = row == len(shown)
        fig.update_xaxes(title_text="deep − classical (positive: deep better)" if last else None,
                         row=row, col=1)
        fig.update_yaxes(autorange="reversed", row=row, col=1)
    return _style(fig, height, showlegend=counterfactual)


def dumbbell(dvt: pd.DataFrame, metric: str, higher_better: bool = True) -> go.Figure:
    """Default (hollow) and tuned (filled) outer test score of each learner on one dataset.

    A configuration that failed on some outer fold is left out (its label says so): a mean
    over the folds that happened to succeed is not comparable.
    """
    fig = go.Figure()
    d = dvt.assign(key=dvt["tuned_mean"] * (1 if higher_better else -1))
    d = d.sort_values(["family", "key"])
    for r in d.itertuples():
        ok = {cfg: getattr(r, f"{cfg}_scored") in (True, 1) for cfg in ("default", "tuned")}
        failed = [cfg for cfg, good in ok.items() if not good]
        y = _name(r.learner) + (f" ({' and '.join(failed)} failed)" if failed else "")
        x = {cfg: getattr(r, f"{cfg}_mean") if ok[cfg] else None for cfg in ok}
        fig.add_trace(go.Scatter(x=[x["default"], x["tuned"]], y=[y, y], mode="lines", showlegend=False,
                                 line=dict(color="#bbb", width=3), hoverinfo="skip"))
        edge = dict(width=2, color=labels.color(r.learner, r.family))
        for cfg, marker in (("default", _marker(r.learner, 12, line=edge) | {"color": "white"}),
                            ("tuned", _marker(r.learner, 12))):
            fig.add_trace(go.Scatter(x=[x[cfg]], y=[y], mode="markers", name=cfg, marker=marker,
                                     showlegend=False,
                                     hovertemplate=cfg + ": %{x:.3f}<extra>%{y}</extra>"))
    title = f"outer test {labels.metric(metric)} (mean over folds)"
    return _style(fig, 90 + 34 * len(d), xaxis_title=title)


def budget_curves(val: pd.DataFrame, test: pd.DataFrame, metric: str) -> go.Figure:
    """Expected best validation score (solid, with the reordering band) and the outer test
    score of the best-so-far configuration (dashed) against trials, log scale."""
    fig = go.Figure()
    for learner in sorted(set(val["learner"]) | set(test["learner"])):
        col, name = labels.color(learner, family_of(learner)), _name(learner)
        v = val[val["learner"] == learner]
        if len(v):
            fig.add_trace(go.Scatter(x=v["n"], y=v["high"], mode="lines", line=dict(width=0),
                                     legendgroup=learner, showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=v["n"], y=v["low"], mode="lines", line=dict(width=0),
                                     fill="tonexty", fillcolor=_rgba(col, 0.15), legendgroup=learner,
                                     showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=v["n"], y=v["expected"], mode="lines+markers", name=name,
                                     line=dict(color=col, width=2.5), marker=_marker(learner, 6),
                                     legendgroup=learner,
                                     hovertemplate=_hover("expected best validation", name)))
        t = test[test["learner"] == learner].dropna(subset=["value"])
        if len(t):
            fig.add_trace(go.Scatter(x=t["n"], y=t["value"], mode="lines", name=name,
                                     line=dict(color=col, dash="dash", width=1.8, shape="hv"),
                                     legendgroup=learner, showlegend=not len(v),
                                     hovertemplate=_hover("outer test", name)))
    for dash, what in (("solid", "expected best validation"), ("dash", "outer test of best so far")):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=what, legendgroup=dash,
                                 line=dict(color="#555", dash=dash, width=2)))
    n_max = max([1.0, *val["n"].tolist(), *test["n"].tolist()])
    fig.update_xaxes(type="log", title_text="trials (log scale)",
                     range=[-0.05, np.log10(n_max) + 0.05], **log_ticks(1, n_max))
    return _style(fig, 440, yaxis_title=labels.metric(metric))


def cd_groups(ranks: pd.Series, cd: float) -> list[tuple[str, ...]]:
    """Maximal runs of learners (sorted by rank) whose rank spread is below the CD."""
    r = ranks.sort_values()
    groups, reach = [], -1
    for i in range(len(r)):
        j = i
        while j + 1 < len(r) and r.iloc[j + 1] - r.iloc[i] < cd:
            j += 1
        if j > i and j > reach:
            groups.append(tuple(r.index[i:j + 1]))
            reach = j
    return groups


def cd_diagram(across: Across) -> go.Figure:
    """Demsar's critical-difference diagram drawn with shapes: rank axis, learners hung from
    their average rank, thick bars joining learners not significantly different (Nemenyi)."""
    ranks = across.friedman.avg_ranks.sort_values()
    k, cd = len(ranks), across.cd
    groups = cd_groups(ranks, cd)
    fig, line = go.Figure(), dict(color="#333", width=1.2)
    fig.add_shape(type="line", x0=1, x1=k, y0=0, y1=0, line=dict(color="#333", width=2))
    for tick in range(1, k + 1):
        fig.add_shape(type="line", x0=tick, x1=tick, y0=0, y1=0.12, line=line)
        fig.add_annotation(x=tick, y=0.2, text=str(tick), showarrow=False, yanchor="bottom")
    fig.add_shape(type="line", x0=1, x1=1 + cd, y0=0.75, y1=0.75, line=dict(color="#333", width=3))
    fig.add_annotation(x=1 + cd / 2, y=0.8, text=f"CD = {cd:.2f}", showarrow=False, yanchor="bottom")
    for g, members in enumerate(groups):
        y = -0.25 - 0.2 * g
        fig.add_shape(type="line", x0=ranks[members[0]] - 0.03, x1=ranks[members[-1]] + 0.03,
                      y0=y, y1=y, line=dict(color="#000", width=5))
    top = -0.45 - 0.2 * len(groups)
    half = (k + 1) // 2
    xs, ys, texts, pos = [], [], [], []
    for i, (learner, r) in enumerate(ranks.items()):
        left = i < half
        y = top - 0.35 * (i if left else k - 1 - i)
        edge = 1 - 0.1 * (k - 1) if left else k + 0.1 * (k - 1)
        fig.add_shape(type="line", x0=r, x1=r, y0=0, y1=y, line=line)
        fig.add_shape(type="line", x0=r, x1=edge, y0=y, y1=y, line=line)
        xs.append(edge)
        ys.append(y)
        texts.append(f"{_name(learner)}  {r:.2f}" if left else f"{r:.2f}  {_name(learner)}")
        pos.append("middle left" if left else "middle right")
    fams = [family_of(n) for n in ranks.index]
    fig.add_trace(go.Scatter(x=list(ranks.values), y=[0] * k, mode="markers", showlegend=False,
                             marker=dict(color=[labels.color(n, f) for n, f in zip(ranks.index, fams)],
                                         symbol=[labels.SYMBOLS[f] for f in fams], size=11),
                             text=[_name(n) for n in ranks.index],
                             hovertemplate="%{text}: average rank %{x:.2f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="text", text=texts, textposition=pos, showlegend=False,
                             hoverinfo="skip", textfont=dict(size=13)))
    span = 0.55 * (k - 1)  # room for the labels on either side
    fig.update_xaxes(visible=False, range=[1 - 0.1 * (k - 1) - span, k + 0.1 * (k - 1) + span])
    fig.update_yaxes(visible=False, range=[ys and min(ys) - 0.3, 1.2])
    return _style(fig, int(140 + 32 * (half + len(groups))), showlegend=False)


def pairwise(across: Across) -> go.Figure:
    """Wilcoxon-Holm p-values and average-rank differences for every pair of learners."""
    names = list(across.friedman.avg_ranks.sort_values().index)
    p = pd.DataFrame(np.nan, index=names, columns=names)
    rd = p.copy()
    sig = pd.DataFrame("", index=names, columns=names)
    for r in across.pairs.itertuples():
        p.loc[r.a, r.b] = p.loc[r.b, r.a] = r.wilcoxon_p_holm
        rd.loc[r.a, r.b], rd.loc[r.b, r.a] = r.rank_diff, -r.rank_diff
        sig.loc[r.a, r.b] = sig.loc[r.b, r.a] = "*" if r.nemenyi_significant else ""
    shown = [_name(n) for n in names]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.3,
                        subplot_titles=["Wilcoxon signed-rank p (Holm-adjusted)",
                                        "rank difference row − column (* Nemenyi significant)"])
    fig.add_trace(go.Heatmap(z=p.to_numpy(), x=shown, y=shown, zmin=0, zmax=1, colorscale="Cividis",
                             text=p.map(lambda v: "" if np.isnan(v) else f"{v:.2f}").to_numpy(),
                             texttemplate="%{text}", colorbar=dict(x=0.36, len=0.9, title="p"),
                             hovertemplate="%{y} vs %{x}: p = %{z:.3f}<extra></extra>"), row=1, col=1)
    lim = max(1.0, float(np.nanmax(np.abs(rd.to_numpy()))) if rd.notna().any().any() else 1.0)
    fig.add_trace(go.Heatmap(z=rd.to_numpy(), x=shown, y=shown, zmin=-lim, zmax=lim, colorscale="RdBu",
                             text=(rd.map(lambda v: "" if np.isnan(v) else f"{v:+.2f}") + sig).values,
                             texttemplate="%{text}", colorbar=dict(x=1.0, len=0.9, title="Δ rank"),
                             hovertemplate="%{y} − %{x}: %{z:+.2f}<extra></extra>"), row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    return _style(fig, 170 + 40 * len(names), showlegend=False, margin=dict(l=10, r=10, t=60, b=10))


def cost_pareto(cost: pd.DataFrame, metric: str, higher_better: bool) -> go.Figure:
    """Seconds spent (log) against tuned score; the Pareto front joins the learners that no
    other learner beats on both."""
    fig = go.Figure()
    ok = cost[cost["scored"]]
    front = ok[ok["pareto"]].sort_values("seconds")
    if len(front) > 1:
        fig.add_trace(go.Scatter(x=front["seconds"], y=front["score"], mode="lines", name="Pareto front",
                                 line=dict(color="#777", dash="dot", width=1.5, shape="hv"),
                                 hoverinfo="skip"))
    for r in ok.itertuples():
        edge = dict(width=2 if r.pareto else 0, color="#000")
        fig.add_trace(go.Scatter(x=[r.seconds], y=[r.score], mode="markers+text", name=_name(r.learner),
                                 text=[labels.learner(r.learner)], textposition="top center",
                                 cliponaxis=False, marker=_marker(r.learner, 13, line=edge),
                                 hovertemplate="%{x:.1f} s, score %{y:.3f}<extra>%{text}</extra>"))
    lo, hi = float(ok["seconds"].min()), float(ok["seconds"].max())
    pad = 0.15 * max(np.log10(max(hi, 1e-3) / max(lo, 1e-3)), 0.5)
    fig.update_xaxes(type="log", title_text="compute: summed trial and refit time (log scale)",
                     range=[np.log10(max(lo, 1e-3)) - pad, np.log10(max(hi, 1e-3)) + pad],
                     **log_ticks(lo, hi, labels.seconds, TIME_TICKS))
    word = "higher" if higher_better else "lower"
    title = f"tuned {labels.metric(metric)} ({word} is better)"
    return _style(fig, 380, yaxis_title=title, showlegend=False)
