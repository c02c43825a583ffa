"""The table printed at the end of a run: tuned and default scores per dataset and learner."""
from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table


def summary_frame(trials: pd.DataFrame, scores: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    primary = {d: info["metric"] for d, info in manifest["datasets"].items()}
    s = scores[scores["metric"] == scores["dataset"].map(primary)]
    table = s.pivot_table(index=["dataset", "learner"], columns="config", values="value",
                          aggfunc=["mean", "std"])
    table.columns = [f"{cfg}_{stat}" for stat, cfg in table.columns]
    counts = trials.groupby(["dataset", "learner"]).agg(
        complete=("state", lambda x: int((x == "COMPLETE").sum())),
        failed=("state", lambda x: int((x == "FAIL").sum())), seconds=("seconds", "sum"))
    out = table.join(counts, how="outer").reset_index()
    out["metric"] = out["dataset"].map(primary)
    return out


def _seconds(value: float) -> str:
    """Summed trial seconds: one decimal, two significant digits below 1 s (never 0.0)."""
    return f"{value:.1f}" if value >= 1 or value == 0 else f"{value:.2g}"


def print_summary(trials: pd.DataFrame, scores: pd.DataFrame, manifest: dict) -> None:
    frame = summary_frame(trials, scores, manifest)
    table = Table(title=f"Study {manifest['study']}: outer test scores (mean ± sd over folds)")
    for col in ("dataset", "learner", "metric", "tuned", "default", "trials ok/failed",
                "trial seconds"):
        table.add_column(col, justify="left" if col in ("dataset", "learner", "metric") else "right")
    for row in frame.itertuples():
        table.add_row(row.dataset, row.learner, row.metric, _pm(row, "tuned"), _pm(row, "default"),
                      f"{row.complete}/{row.failed}", _seconds(row.seconds))
    console = Console()
    if not console.is_terminal:  # a file or a job's log: no terminal width to fit, keep names whole
        console = Console(width=160)
    console.print(table)


def _pm(row, cfg: str) -> str:
    mean, sd = getattr(row, f"{cfg}_mean", float("nan")), getattr(row, f"{cfg}_std", float("nan"))
    return f"{mean:.3f} ± {sd:.3f}" if pd.notna(mean) else "n/a"
