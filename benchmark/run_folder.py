"""Every file of a run folder, named once, and how each is read and written.

A run folder holds the manifest and lock (``run_manifest``), the store (``store``: Optuna's
tables and its own), the long tables the results exporter writes (``results``; their columns are
defined here), the split plans, the checks' output (``checks.phase``) and the report page.
Modules that read or write these files go through the names and helpers here, so the folder's
layout is written down in one place; ``read_table`` reads an older run's column names as today's.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

MANIFEST = "manifest.json"  # what the run was made from (benchmark.run_manifest)
LOCK = "run.lock"  # one driver at a time (run_manifest.FolderLock)
STORE = "optuna.db"  # every trial and outer evaluation (benchmark.store)
TRIALS = "trials.parquet"  # one row per trial (benchmark.results)
SCORES = "scores.parquet"  # one row per outer test score
FITS = "fits.parquet"  # one row per outer fit: seconds and error
CURVES = "curves.parquet"  # outer test scores of each best-so-far configuration
CONTROLS = "controls.parquet"  # shuffled-label control scores
PREDICTIONS = "predictions.parquet"  # per-example tuned test predictions (never sensitive data)
CHECKS = "checks.json"  # the checks' findings (benchmark.checks.phase)
IMPORTANCE = "importance.parquet"  # permutation importance of the best models
SUBGROUPS = "subgroups.parquet"  # subgroup and per-class scores of the best models
LEARNING_CURVE = "learning_curve.parquet"  # scores on growing parts of the training data
SPLITS = "splits"  # folder: one split plan per dataset, ``<dataset>.json``
REPORT = "index.html"  # the report page (benchmark.report)

REPORT_NEEDS = (MANIFEST, TRIALS, SCORES)  # the files a report cannot do without

# The columns of the long tables (``results`` writes them, the report and the checks read them).
TRIAL_COLUMNS = ["dataset", "outer_fold", "learner", "family", "trial", "state", "config", "value",
                 "seconds", "epochs", "error", "node_id", "split_sha256"]  # config: full, as JSON
SCORE_COLUMNS = ["dataset", "outer_fold", "learner", "family", "config", "metric", "value",
                 "trial", "error"]  # config: default | tuned
FIT_COLUMNS = ["dataset", "outer_fold", "learner", "family", "config", "trial", "fit_seconds",
               "error"]
CURVE_COLUMNS = ["dataset", "outer_fold", "learner", "family", "trial", "metric", "value"]
PREDICTION_COLUMNS = ["dataset", "outer_fold", "learner", "family", "row", "output", "value"]
# Columns that older runs named otherwise: renamed as the table is read (``read_table``).
OLD_NAMES = {TRIALS: {"params": "config"}}


def split_file(run_dir: Path, dataset: str) -> Path:
    """Where the dataset's split plan is saved."""
    return Path(run_dir) / SPLITS / f"{dataset}.json"


def saved_split(run_dir: Path, dataset: str) -> dict | None:
    """The dataset's saved split plan (as JSON), None when there is none."""
    path = split_file(run_dir, dataset)
    return json.loads(path.read_text()) if path.exists() else None


def missing(run_dir: Path, names=REPORT_NEEDS) -> list[Path]:
    """The named files the folder lacks."""
    return [Path(run_dir) / n for n in names if not (Path(run_dir) / n).exists()]


def read_json(run_dir: Path, name: str, required: bool = False) -> dict | None:
    """A JSON file of the folder; None when it is not there, unless it is ``required``."""
    path = Path(run_dir) / name
    return json.loads(path.read_text()) if required or path.exists() else None


def write_json(run_dir: Path, name: str, data: dict, **dump) -> None:
    """Write a JSON file of the folder atomically (through a temporary file)."""
    path = Path(run_dir) / name
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, **dump))
    tmp.replace(path)


def read_table(run_dir: Path, name: str, default: pd.DataFrame | None = None) -> pd.DataFrame:
    """A parquet table of the folder; ``default`` (an empty frame) when it is not there,
    or the read's error when no default is given. An older run's column names are read as
    today's (``OLD_NAMES``)."""
    path = Path(run_dir) / name
    if default is not None and not path.exists():
        return default
    frame = pd.read_parquet(path)
    renames = {old: new for old, new in OLD_NAMES.get(name, {}).items()
               if old in frame and new not in frame}
    return frame.rename(columns=renames) if renames else frame


def write_table(run_dir: Path, name: str, frame: pd.DataFrame, keep_empty: bool = True) -> None:
    """Write a parquet table; with ``keep_empty=False`` an empty table removes the file, so an
    old one does not outlive a run that has none."""
    path = Path(run_dir) / name
    if keep_empty or len(frame):
        frame.to_parquet(path, index=False)
    elif path.exists():
        path.unlink()
