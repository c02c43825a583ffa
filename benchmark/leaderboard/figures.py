"""The leaderboard's own figures (Elo intervals, win rates); the rest are the run report's."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import stats
from ..report import figures, labels


def elo(result: stats.EloResult) -> go.Figure:
    """Each learner's Elo with its 95% bootstrap interval, best on top."""
    t = result.table.iloc[::-1]
    fig = go.Figure()
    for name, r in t.iterrows():
        fig.add_trace(go.Scatter(
            x=[r.elo], y=[figures._name(name)], mode="markers", marker=figures._marker(name, 12),
            error_x=dict(type="data", symmetric=False, array=[r.high - r.elo],
                         arrayminus=[r.elo - r.low], color="#555", thickness=1.5),
            showlegend=False, hovertemplate=(f"Elo %{{x:.0f}} (95% interval {r.low:.0f} to {r.high:.0f}; "
                                             f"{r.datasets} datasets)<extra>{labels.learner(name)}</extra>")))
    if result.anchor is not None:
        fig.add_vline(x=stats.ELO_INIT, line=dict(color="#999", dash="dot", width=1))
    return figures._style(fig, 90 + 34 * len(t), xaxis_title="Elo (95% bootstrap interval over datasets)",
                          showlegend=False)


def win_rates(matrix: pd.DataFrame, elo_order: list[str]) -> go.Figure:
    """Share of datasets on which the row learner beats the column learner (ties count half)."""
    names = [n for n in elo_order if n in matrix.index]
    m = matrix.loc[names, names]
    shown = [figures._name(n) for n in names]
    text = m.map(lambda v: "" if np.isnan(v) else f"{100 * v:.0f}%").to_numpy()
    fig = go.Figure(go.Heatmap(z=m.to_numpy(), x=shown, y=shown, zmin=0, zmax=1, colorscale="PRGn",
                               text=text, texttemplate="%{text}", colorbar=dict(title="row wins"),
                               hovertemplate="%{y} beats %{x} on %{z:.0%} of datasets<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="row learner")
    fig.update_xaxes(side="top", title_text="column learner")
    return figures._style(fig, 170 + 40 * len(names), showlegend=False,
                          margin=dict(l=10, r=10, t=60, b=10))
