"""The run folder's tables, exported from the store's records: one long table each.

``trials.parquet``: one row per trial (dataset, outer_fold, learner, family, trial, state, config:
the full configuration as JSON, value, seconds, epochs, error, node_id, split_sha256); a deep trial
trained in a population carries its share of the population's seconds and the epochs it trained.
``scores.parquet``: one row per dataset x outer_fold x learner x config (default|tuned) x metric,
with the value. Failed trials stay as rows. ``controls.parquet`` (shuffled-label controls) and
``predictions.parquet`` (per-example outer test predictions of the tuned configurations, never
for a sensitive dataset) feed ``benchmark.checks``. The columns are ``run_folder``'s.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import learners
from . import run_folder as folder
from .records import Cell, StoredCell
from .run_folder import (CURVE_COLUMNS, FIT_COLUMNS, PREDICTION_COLUMNS, SCORE_COLUMNS,
                         TRIAL_COLUMNS)
from .store import Store

LABEL_COLUMNS = ["class", "truth"]  # added when the datasets are at hand (``export``)


def family(learner: str) -> str:
    return "deep" if learner in learners.DEEP else "classical"


def _key(cell: Cell) -> dict:
    """A cell's key columns."""
    return {"dataset": cell.dataset, "outer_fold": cell.fold, "learner": cell.learner,
            "family": family(cell.learner)}


def trials_frame(cells: list[StoredCell]) -> pd.DataFrame:
    rows = [{**_key(c.cell), "trial": t.number, "state": t.state,
             "config": json.dumps(t.config, sort_keys=True), "value": t.value,
             "seconds": t.seconds, "epochs": t.epochs, "error": t.error,
             "node_id": t.where.node_id, "split_sha256": t.split_sha256}
            for c in cells for t in c.trials]
    frame = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    return frame.sort_values(["dataset", "outer_fold", "learner", "trial"], ignore_index=True)


def _outer_rows(cells: list[StoredCell]):
    """(key columns with the config name, result) for the default and tuned outer fits of every
    finished cell."""
    for c in cells:
        if c.outer is None:
            continue
        for config, res in (("default", c.outer.default), ("tuned", c.outer.tuned)):
            if res is not None:
                yield {**_key(c.cell), "config": config}, res


def scores_frame(cells: list[StoredCell]) -> pd.DataFrame:
    """Test scores only: no timings, so the same seed gives an identical table."""
    rows = [{**key, "metric": metric, "value": value, "trial": res.trial, "error": res.error}
            for key, res in _outer_rows(cells)
            for metric, value in (res.scores or {"(none)": float("nan")}).items()]
    frame = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    return frame.sort_values(["dataset", "outer_fold", "learner", "config", "metric"], ignore_index=True)


def fits_frame(cells: list[StoredCell]) -> pd.DataFrame:
    rows = [{**key, "trial": res.trial, "fit_seconds": res.fit_seconds, "error": res.error}
            for key, res in _outer_rows(cells)]
    frame = pd.DataFrame(rows, columns=FIT_COLUMNS)
    return frame.sort_values(["dataset", "outer_fold", "learner", "config"], ignore_index=True)


def curves_frame(cells: list[StoredCell]) -> pd.DataFrame:
    """Outer test scores of each configuration that was best so far (default, incumbents, tuned)."""
    rows = []
    for c in cells:
        if c.outer is None:
            continue
        default_ok = any(t.number == 0 and t.state == "COMPLETE" for t in c.trials)
        for res in c.outer.tested():
            if res.trial is None:
                continue
            if res is c.outer.default and not default_ok:  # a failed default: never the best
                continue
            rows += [{**_key(c.cell), "trial": res.trial, "metric": metric, "value": value}
                     for metric, value in res.scores.items()]
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    frame = frame.drop_duplicates(["dataset", "outer_fold", "learner", "trial", "metric"])
    return frame.sort_values(["dataset", "outer_fold", "learner", "trial", "metric"], ignore_index=True)


def _tuned(cells: list[StoredCell]):
    """(cell key columns, outer evaluation) of every finished cell with a tuned result."""
    for c in cells:
        if c.outer is not None and c.outer.tuned is not None:
            yield _key(c.cell), c.outer


def controls_frame(cells: list[StoredCell]) -> pd.DataFrame:
    """Shuffled-label control scores (benchmark.checks.controls): one row per refit and metric,
    with the chance level of that metric on the cell's test fold."""
    from .checks import controls

    rows = [{**key, "seed": c.seed, "metric": metric, "value": value,
             "chance": outer.chance.get(metric, float("nan"))}
            for key, outer in _tuned(cells) for c in outer.controls
            for metric, value in c.scores.items()]
    return controls.frame(rows)


def predictions_frame(cells: list[StoredCell]) -> pd.DataFrame:
    """Per-example outer test predictions of the tuned configurations: one row per example and
    output (class probability, or the prediction for regression). Sensitive datasets never
    have any: their workers do not send them."""
    rows = []
    for key, outer in _tuned(cells):
        p = outer.predictions
        if p is None:
            continue
        for row, values in zip(p.rows, p.values):
            rows.extend({**key, "row": row, "output": k, "value": v} for k, v in enumerate(values))
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    return frame.sort_values(["dataset", "outer_fold", "learner", "row", "output"], ignore_index=True)


def with_labels(predictions: pd.DataFrame, datasets: dict) -> pd.DataFrame:
    """Name each output's class (``class``) and each row's true label (``truth``): class names
    for classification, the target value for regression (``class`` empty)."""
    out = predictions.assign(**{c: pd.Series(dtype=object) for c in LABEL_COLUMNS})
    for name, ds in datasets.items():
        at = out["dataset"] == name
        rows = out.loc[at, "row"].to_numpy()
        if ds.classes is not None:
            out.loc[at, "class"] = [ds.classes[k] for k in out.loc[at, "output"]]
            out.loc[at, "truth"] = [ds.classes[k] for k in ds.y[rows]]
        else:
            out.loc[at, "truth"] = [str(v) for v in ds.y[rows]]
    return out


def export(store: Store, run_dir: Path, datasets: dict | None = None
           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the run's tables from the store's records (read once); with ``datasets`` (name ->
    Dataset) predictions name their classes and true labels."""
    cells = store.cells()
    trials, scores = trials_frame(cells), scores_frame(cells)
    folder.write_table(run_dir, folder.CONTROLS, controls_frame(cells))
    predictions = predictions_frame(cells)
    if datasets and len(predictions):
        predictions = with_labels(predictions, datasets)
    folder.write_table(run_dir, folder.PREDICTIONS, predictions, keep_empty=False)
    folder.write_table(run_dir, folder.TRIALS, trials)
    folder.write_table(run_dir, folder.SCORES, scores)
    folder.write_table(run_dir, folder.CURVES, curves_frame(cells))
    folder.write_table(run_dir, folder.FITS, fits_frame(cells))
    return trials, scores


def load(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The run's trials and scores tables and its manifest."""
    return (folder.read_table(run_dir, folder.TRIALS), folder.read_table(run_dir, folder.SCORES),
            folder.read_json(run_dir, folder.MANIFEST, required=True))
