"""The report's check sections (benchmark.checks): read from the run folder, never refit.

``context(run_dir, datasets)`` returns everything ``checks.html.j2`` shows: a summary of every
flag, the shuffled-label null bands beside the real scores, the leakage and batch findings, the
data-size notes and learning curves, permutation importance and where the best models fail.
A run folder without ``checks.json`` (older runs, checks switched off) gets one explaining line.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .. import run_folder as folder
from . import labels
from .figures import _style
from .page import _slug, embed

SECTIONS = [("checks", "Checks: flags at a glance"), ("controls", "Shuffled-label controls"),
            ("leakage", "Leakage audit"), ("batches", "Batch effects"),
            ("enough-data", "Enough data?"), ("drivers", "What drives predictions"),
            ("failures", "Where models fail"), ("sensitive", "Sensitive data")]
SUMMARY = [("controls", "controls"), ("duplicates", "duplicates"), ("groups", "groups"),
           ("proxy", "label proxy"), ("metadata", "metadata"), ("missingness", "missingness"),
           ("batch", "batch"), ("confounding", "confounding"), ("split_gap", "split gap"),
           ("size", "size"), ("metric", "metric")]
SECTION_OF = {"leakage": ["duplicates", "groups", "proxy", "metadata", "missingness"],
              "batches": ["batch", "confounding", "split_gap"], "enough-data": ["size", "metric"]}
MARK = {"problem": "✗ problem", "warning": "⚠ warning", "ok": "✓ ok", "info": "–"}
CAPTIONS = {
    "controls": "Grey bar: the range of outer-test scores of each learner's tuned configuration "
                "refit on shuffled training labels (all folds and refits); black dash and whisker: "
                "their mean and its 95% interval; coloured marker: the real tuned score; dashed "
                "line: the null mean (chance on these test folds). A whisker wholly above the line "
                "is a sign of leakage; the flag also needs Holm's correction over the learners.",
    "curve": "Mean outer-test score of the best classical and best deep configurations trained on "
             "25, 50, 75 and 100% of each outer training part; a curve still rising at 100% says "
             "more data would help.",
    "importance": "Drop in the primary metric on the outer test folds when one feature is "
                  "shuffled (mean over folds and repeats), top features of each model.",
}


def anchor(dataset: str, check: str) -> str:
    """The HTML id of one finding in the check sections: ``check-<dataset>-<check>``, the dataset
    name with anything but letters, digits, ``_`` and ``-`` replaced by ``-`` (so the id is a
    valid fragment); the check key as stored (``split_gap`` keeps its underscore)."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-") else "-" for ch in dataset)
    return f"check-{safe}-{check}"


def toc(sections: list[tuple[str, str]], ctx: dict, before: str = "pairs") -> list[tuple[str, str]]:
    """The page's contents with the check sections inserted before ``before`` (or at the end)."""
    mine = SECTIONS if ctx["available"] else [("checks", "Checks")]
    at = next((i for i, (key, _) in enumerate(sections) if key == before), len(sections))
    return [*sections[:at], *mine, *sections[at:]]


def load(run_dir: Path) -> dict | None:
    """The run's ``checks.json``, None when it has none."""
    return folder.read_json(run_dir, folder.CHECKS)


def _table(run_dir: Path, name: str) -> pd.DataFrame:
    return folder.read_table(run_dir, name, pd.DataFrame())


def context(run_dir: Path, datasets: list[str]) -> dict:
    """Everything the check sections show, as display-ready dicts and embedded figures."""
    checks = load(run_dir)
    if checks and checks.get("error"):
        return {"available": False, "sections": SECTIONS,
                "reason": f"The checks failed: {checks['error']}"}
    if not checks or not checks.get("enabled"):
        return {"available": False, "sections": SECTIONS,
                "reason": "This run folder has no checks (checks.json is missing or the study "
                          "set `checks: {enabled: false}`)."}
    per = checks["datasets"]
    names = [d for d in datasets if d in per] + [d for d in per if d not in datasets]
    curve = _table(run_dir, folder.LEARNING_CURVE)
    return {"available": True, "sections": SECTIONS, "columns": [t for _, t in SUMMARY],
            "summary": [_summary_row(d, per[d]) for d in names],
            "controls": [_controls(d, i, per[d]) for i, d in enumerate(names)],
            "findings": {s: [(d, _findings(d, per[d], keys)) for d in names]
                         for s, keys in SECTION_OF.items()},
            "gaps": [(d, [_gap_row(r) for r in per[d]["split_gap"]])
                     for d in names if per[d].get("split_gap")],
            "curves": [(d, _curve_fig(curve, d, i)) for i, d in enumerate(names)
                       if len(curve) and d in set(curve["dataset"])],
            "curve_on": bool(checks["settings"].get("learning_curve")),
            "drivers": [_drivers(d, i, per[d]) for i, d in enumerate(names)],
            "failures": [_failures(d, per[d], _table(run_dir, folder.SUBGROUPS)) for d in names],
            "sensitive": checks.get("sensitive"),
            "settings": checks["settings"], "seconds": checks.get("seconds")}


def _summary_row(dataset: str, entry: dict) -> dict:
    level = {f["check"]: f for f in entry.get("findings", [])}
    cells = [dict(level=level[c]["level"] if c in level else "info",
                  mark=MARK[level[c]["level"]] if c in level else "–",
                  title=level[c]["title"] if c in level else "not run",
                  href=f"#{anchor(dataset, c)}" if c in level else None) for c, _ in SUMMARY]
    return dict(dataset=dataset, cells=cells,
                problems=sum(c["level"] == "problem" for c in cells),
                warnings=sum(c["level"] == "warning" for c in cells))


def _findings(dataset: str, entry: dict, keys: list[str]) -> list[dict]:
    """The section's findings in order, each with its anchor. When all are ``info`` (e.g. no
    group column) one line says why; the others' anchors ride on it, so every link lands."""
    order = {k: i for i, k in enumerate(keys)}
    found = sorted([{**f, "anchor": anchor(dataset, f["check"]), "also": []}
                    for f in entry.get("findings", []) if f["check"] in order],
                   key=lambda f: order[f["check"]])
    if len(found) > 1 and all(f["level"] == "info" for f in found):
        return [{**found[0], "also": [f["anchor"] for f in found[1:]]}]
    return found


def _fmt(x, digits=3) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _controls(dataset: str, i: int, entry: dict) -> dict:
    rows = entry.get("controls") or []
    shown = [dict(learner=labels.learner(r["learner"]), family=r["family"],
                  metric=labels.metric(r["metric"]), null=_fmt(r.get("null", r["chance"])),
                  mean=_fmt(r["mean"]), band=f"{_fmt(r['low'])} to {_fmt(r['high'])}",
                  real=_fmt(r["real"]), excess=_excess(r), p=_p(r.get("p_holm")), n=r["n"],
                  flag=r["flag"])
             for r in rows]
    fig = embed(_band_fig(rows), f"fig-controls-{i}-{_slug(dataset)}", CAPTIONS["controls"]) if rows else None
    found = [{**f, "anchor": anchor(dataset, "controls"), "also": []}
             for f in entry.get("findings", []) if f["check"] == "controls"]
    return dict(dataset=dataset, rows=shown, fig=fig, findings=found)


def _excess(r: dict) -> str:
    se = r.get("se")
    return f"{r['excess']:+.3f}" + (f" ± {se:.3f}" if se is not None and np.isfinite(se) else "")


def _p(p) -> str:
    return "n/a" if p is None or not np.isfinite(p) else "< 0.001" if p < 0.001 else f"{p:.3f}"


def _gap_row(r: dict) -> dict:
    finite = np.isfinite(r.get("low", float("nan")))
    return {**r, "learner": labels.learner(r["learner"]),
            "interval": f"{r['low']:+.3f} to {r['high']:+.3f}" if finite else "n/a"}


def _band_fig(rows: list[dict]) -> go.Figure:
    """Null band (grey) beside the real tuned score (learner colour) and chance (dashed)."""
    rows = sorted(rows, key=lambda r: (r["family"], r["learner"]))
    x = [labels.learner(r["learner"]) for r in rows]
    fig = go.Figure()
    fig.add_bar(x=x, y=[r["high"] - r["low"] for r in rows], base=[r["low"] for r in rows],
                marker_color="rgba(120,120,120,0.35)", width=0.35, name="shuffled labels (range)",
                hovertemplate="%{x}: %{base:.3f} to %{y:.3f}<extra>control range</extra>")
    se = [r.get("se") if r.get("se") is not None and np.isfinite(r.get("se")) else 0.0 for r in rows]
    fig.add_scatter(x=x, y=[r["mean"] for r in rows], mode="markers", name="shuffled labels (mean)",
                    error_y=dict(array=[1.96 * s for s in se], color="#222", thickness=1.5),
                    marker=dict(color="#222", size=8, symbol="line-ew-open", line_width=3))
    fig.add_scatter(x=x, y=[r["real"] for r in rows], mode="markers", name="real labels (tuned)",
                    marker=dict(size=12, color=[labels.color(r["learner"], r["family"]) for r in rows],
                                symbol=[labels.SYMBOLS[r["family"]] for r in rows]))
    fig.add_hline(y=float(np.mean([r.get("null", r["chance"]) for r in rows])), line_dash="dash",
                  line_color="#444", annotation_text="chance", annotation_position="top left")
    return _style(fig, 340, yaxis_title=labels.metric(rows[0]["metric"]), bargap=0.5)


def _curve_fig(curve: pd.DataFrame, dataset: str, i: int):
    c = curve[curve["dataset"] == dataset]
    g = c.groupby(["role", "learner", "fraction"])["value"].mean().reset_index()
    fig = go.Figure()
    for (role, learner), s in g.groupby(["role", "learner"]):
        fig.add_scatter(x=s["fraction"] * 100, y=s["value"], mode="lines+markers",
                        name=f"{labels.learner(learner)} ({role})",
                        line_color=labels.color(learner, role),
                        marker=dict(symbol=labels.SYMBOLS.get(role, "circle"), size=9))
    fig = _style(fig, 340, xaxis_title="% of the outer training part",
                 yaxis_title=labels.metric(c["metric"].iloc[0]))
    return embed(fig, f"fig-curve-{i}-{_slug(dataset)}", CAPTIONS["curve"])


def _drivers(dataset: str, i: int, entry: dict) -> dict:
    imp, best = entry.get("importance") or {}, entry.get("best") or {}
    top = imp.get("top") or {}
    agree = imp.get("agreement")
    if agree:
        rho = "n/a" if agree["spearman"] is None else f"{agree['spearman']:.2f}"
        text = (f"Over the {agree['n_features']} features scored, the two models' importances have "
                f"Spearman ρ = {rho}; {agree['overlap']} of their top {agree['top']} features are "
                "shared" + (f" ({', '.join(agree['shared'])})." if agree["shared"] else "."))
    elif len(top) == 2:
        text = ("The two models read different features (e.g. k-mer counts and one-hot sequence "
                "positions), so their importances cannot be matched.")
    else:
        text = "Importance needs a best classical and a best deep model."
    fig = None
    if top:
        fig = embed(_importance_fig(top, best), f"fig-importance-{i}-{_slug(dataset)}",
                    CAPTIONS["importance"])
    return dict(dataset=dataset, text=text, fig=fig, k=imp.get("features"))


def _importance_fig(top: dict, best: dict) -> go.Figure:
    roles = [r for r in ("classical", "deep") if top.get(r)]
    fig = make_subplots(rows=1, cols=len(roles), horizontal_spacing=0.25,
                        subplot_titles=[f"{labels.learner(best.get(r, r))} ({r})" for r in roles])
    for col, role in enumerate(roles, start=1):
        rows = list(reversed(top[role]))
        fig.add_bar(x=[r["importance"] for r in rows], y=[r["feature"] for r in rows],
                    orientation="h", error_x=dict(array=[r["sd"] for r in rows]),
                    marker_color=labels.FAMILY_COLORS[role], showlegend=False, row=1, col=col)
    return _style(fig, 120 + 24 * max(len(top[r]) for r in roles), showlegend=False)


def _failures(dataset: str, entry: dict, subgroups: pd.DataFrame) -> dict:
    f, best = entry.get("failures") or {}, entry.get("best") or {}
    m = f.get("mcnemar")
    mcnemar = None
    if m:
        mcnemar = (f"Both right on {m['both_right']}, both wrong on {m['both_wrong']}; only "
                   f"{labels.learner(best.get('classical', ''))} right on {m['only_classical']}, only "
                   f"{labels.learner(best.get('deep', ''))} right on {m['only_deep']}. McNemar "
                   f"{'exact ' if m['exact'] else ''}p = {m['p']:.3g}: "
                   + ("they fail on different examples." if m["p"] < 0.05 else
                      "no evidence that they fail on different examples."))
    rows, models = [], []
    if len(subgroups) and dataset in set(subgroups["dataset"]):
        s = subgroups[subgroups["dataset"] == dataset]
        models = [(role, labels.learner(best.get(role, ""))) for role in ("classical", "deep")
                  if role in set(s["role"])]
        for (column, subgroup), g in s.groupby(["column", "subgroup"], sort=True):
            by = g.set_index("role")
            rows.append(dict(column=column, subgroup=subgroup, n=int(g["n"].iloc[0]),
                             accuracy=[_fmt(by.at[r, "accuracy"]) if r in by.index else "n/a"
                                       for r, _ in models],
                             value=[_fmt(by.at[r, "value"]) if r in by.index else "n/a"
                                    for r, _ in models]))
    worst = [f"{labels.learner(w['learner'])} on {w['column']} = {w['subgroup']} "
             f"(accuracy {w['accuracy']:.2f} vs {w['overall']:.2f} overall, n = {w['n']})"
             for w in f.get("worst") or []]
    errors = entry.get("refit_errors") or []
    metric = labels.metric(subgroups["metric"].iloc[0]) if len(subgroups) else ""
    show = any(v != "n/a" for r in rows for v in r["value"])  # single-class subgroups: none
    return dict(dataset=dataset, mcnemar=mcnemar, rows=rows, worst=worst, errors=errors,
                models=[f"{name} ({role})" for role, name in models], metric=metric,
                show_metric=show)
