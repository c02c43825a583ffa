"""The run folder's tables, exported from the store: one long table each.

``trials.parquet``: one row per trial (dataset, outer_fold, learner, family, trial, state, params
as JSON, value, seconds, epochs, error, node_id); a deep trial trained in a population carries its
share of the population's seconds and the epochs it trained. ``scores.parquet``: one row per
dataset x outer_fold x learner x config (default|tuned) x metric, with the value. Failed trials
stay as rows. ``controls.parquet`` (shuffled-label controls) and ``predictions.parquet``
(per-example outer test predictions of the tuned configurations, never for a sensitive dataset)
feed ``benchmark.checks``.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import learners
from . import run_folder as folder
from .store import Store, TrialState

TRIAL_COLUMNS = ["dataset", "outer_fold", "learner", "family", "trial", "state", "params", "value",
                 "seconds", "epochs", "error", "node_id", "split_sha256"]
SCORE_COLUMNS = ["dataset", "outer_fold", "learner", "family", "config", "metric", "value",
                 "trial", "error"]
PREDICTION_COLUMNS = ["dataset", "outer_fold", "learner", "family", "row", "output", "value"]
LABEL_COLUMNS = ["class", "truth"]  # added when the datasets are at hand (``export``)
FIT_COLUMNS = ["dataset", "outer_fold", "learner", "family", "config", "trial", "fit_seconds",
               "error"]


def family(learner: str) -> str:
    return "deep" if learner in learners.DEEP else "classical"


def trials_frame(store: Store) -> pd.DataFrame:
    rows = []
    for study in store.all_cells():
        cell = study.user_attrs["cell"]
        for t in study.get_trials(deepcopy=False):
            a = t.user_attrs
            rows.append({**cell, "family": family(cell["learner"]), "trial": t.number,
                         "state": t.state.name, "params": json.dumps(a.get("config", {}), sort_keys=True),
                         "value": t.value, "seconds": a.get("seconds"), "epochs": a.get("epochs"),
                         "error": a.get("error"),
                         "node_id": a.get("node_id"), "split_sha256": a.get("split_sha256")})
    frame = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    return frame.sort_values(["dataset", "outer_fold", "learner", "trial"], ignore_index=True)


def _outer_rows(store: Store):
    """(cell, config name, result) for the default and tuned outer fits of every finished cell."""
    for study in store.all_cells():
        cell, outer = study.user_attrs["cell"], study.user_attrs.get("outer") or {}
        for config in ("default", "tuned"):
            if outer.get(config):
                yield {**cell, "family": family(cell["learner"]), "config": config}, outer[config]


def scores_frame(store: Store) -> pd.DataFrame:
    """Test scores only: no timings, so the same seed gives an identical table."""
    rows = [{**key, "metric": metric, "value": value, "trial": res["trial"], "error": res["error"]}
            for key, res in _outer_rows(store)
            for metric, value in (res["scores"] or {"(none)": float("nan")}).items()]
    frame = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    return frame.sort_values(["dataset", "outer_fold", "learner", "config", "metric"], ignore_index=True)


def fits_frame(store: Store) -> pd.DataFrame:
    rows = [{**key, "trial": res["trial"], "fit_seconds": res["fit_seconds"], "error": res["error"]}
            for key, res in _outer_rows(store)]
    frame = pd.DataFrame(rows, columns=FIT_COLUMNS)
    return frame.sort_values(["dataset", "outer_fold", "learner", "config"], ignore_index=True)


def curves_frame(store: Store) -> pd.DataFrame:
    """Outer test scores of each configuration that was best so far (default, incumbents, tuned)."""
    rows = []
    for study in store.all_cells():
        cell, outer = study.user_attrs["cell"], study.user_attrs.get("outer") or {}
        default_ok = any(t.number == 0 and t.state == TrialState.COMPLETE
                         for t in study.get_trials(deepcopy=False))
        for name, res in outer.items():
            if not isinstance(res, dict) or res.get("trial") is None:
                continue
            if name == "default" and not default_ok:  # a failed default was never the incumbent
                continue
            for metric, value in (res.get("scores") or {}).items():
                rows.append({**cell, "learner_family": family(cell["learner"]), "trial": res["trial"],
                             "metric": metric, "value": value})
    frame = pd.DataFrame(rows, columns=["dataset", "outer_fold", "learner", "learner_family", "trial",
                                        "metric", "value"]).rename(columns={"learner_family": "family"})
    frame = frame.drop_duplicates(["dataset", "outer_fold", "learner", "trial", "metric"])
    return frame.sort_values(["dataset", "outer_fold", "learner", "trial", "metric"], ignore_index=True)


def _tuned(store: Store):
    """(cell key columns, tuned outer result) of every finished cell."""
    for key, res in _outer_rows(store):
        if key["config"] == "tuned":
            yield {k: key[k] for k in ("dataset", "outer_fold", "learner", "family")}, res


def controls_frame(store: Store) -> pd.DataFrame:
    """Shuffled-label control scores (benchmark.checks.controls): one row per refit and metric,
    with the chance level of that metric on the cell's test fold."""
    from .checks import controls

    rows = [{**key, "seed": c["seed"], "metric": metric, "value": value,
             "chance": (res.get("chance") or {}).get(metric, float("nan"))}
            for key, res in _tuned(store) for c in res.get("controls") or []
            for metric, value in (c.get("scores") or {}).items()]
    return controls.frame(rows)


def predictions_frame(store: Store) -> pd.DataFrame:
    """Per-example outer test predictions of the tuned configurations: one row per example and
    output (class probability, or the prediction for regression). Sensitive datasets never
    have any: their workers do not send them."""
    rows = []
    for key, res in _tuned(store):
        p = res.get("predictions")
        if not p:
            continue
        for row, values in zip(p["rows"], p["values"]):
            values = values if isinstance(values, list) else [values]
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
    """Write the run's tables; with ``datasets`` (name -> Dataset) predictions name their
    classes and true labels."""
    trials, scores = trials_frame(store), scores_frame(store)
    folder.write_table(run_dir, folder.CONTROLS, controls_frame(store))
    predictions = predictions_frame(store)
    if datasets and len(predictions):
        predictions = with_labels(predictions, datasets)
    folder.write_table(run_dir, folder.PREDICTIONS, predictions, keep_empty=False)
    folder.write_table(run_dir, folder.TRIALS, trials)
    folder.write_table(run_dir, folder.SCORES, scores)
    folder.write_table(run_dir, folder.CURVES, curves_frame(store))
    folder.write_table(run_dir, folder.FITS, fits_frame(store))
    return trials, scores


def load(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The run's trials and scores tables and its manifest."""
    return (folder.read_table(run_dir, folder.TRIALS), folder.read_table(run_dir, folder.SCORES),
            folder.read_json(run_dir, folder.MANIFEST, required=True))
