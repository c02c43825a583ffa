"""Reading a finished run folder for the report: the manifest, the long tables and the split sizes.

The report is built from these stored results alone; nothing here refits or writes.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import run_folder as folder
from ..errors import ConfigError, Problem


@dataclass(frozen=True, eq=False)
class Run:
    """Everything the report reads, loaded once."""

    dir: Path
    manifest: dict
    trials: pd.DataFrame
    scores: pd.DataFrame
    curves: pd.DataFrame
    fits: pd.DataFrame  # one row per outer fit (dataset, fold, learner, config): seconds, error
    ratios: dict[str, float]  # dataset -> mean n_test / n_train over outer folds

    @property
    def datasets(self) -> list[str]:
        """Datasets in study order, then any others that have results."""
        listed = list(self.manifest.get("datasets", {}))
        seen = set(self.scores["dataset"]) | set(self.trials["dataset"])
        return listed + sorted(seen - set(listed))

    def metric(self, dataset: str) -> str:
        """The dataset's primary metric as the run recorded it."""
        info = self.manifest.get("datasets", {}).get(dataset, {})
        if info.get("metric"):
            return info["metric"]
        return "rmse" if info.get("task") == "regression" else "auroc"

    @property
    def repeats(self) -> int:
        """Repeats of the outer cross-validation (1 for runs made before repeats existed)."""
        return int(((self.manifest.get("config") or {}).get("splits") or {}).get("repeats") or 1)

    @property
    def outer_folds(self) -> int | None:
        """Folds per repeat, as the study asked."""
        k = ((self.manifest.get("config") or {}).get("splits") or {}).get("outer_folds")
        return int(k) if k else None

    def n_folds(self, dataset: str) -> int:
        return int(self.scores.loc[self.scores["dataset"] == dataset, "outer_fold"].nunique())


def load_run(run_dir: Path) -> Run:
    """Load a run folder or name every missing file at once (a user error, not a traceback)."""
    run_dir = Path(run_dir)
    missing = folder.missing(run_dir)
    if missing:
        raise ConfigError([Problem(str(path), "a run folder needs this file to build a report",
                                   fix="point at the folder `python -m benchmark run` wrote, or let "
                                       "that run finish") for path in missing])
    manifest = folder.read_json(run_dir, folder.MANIFEST, required=True)
    trials = folder.read_table(run_dir, folder.TRIALS)
    scores = folder.read_table(run_dir, folder.SCORES)
    curves = folder.read_table(run_dir, folder.CURVES,
                               pd.DataFrame(columns=folder.CURVE_COLUMNS))
    for frame in (trials, scores, curves):
        if "value" in frame:
            frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    names = set(manifest.get("datasets", {})) | set(scores["dataset"])
    k = ((manifest.get("config") or {}).get("splits") or {}).get("outer_folds")
    return Run(run_dir, manifest, trials, scores, curves, _fits(run_dir, scores),
               {d: _ratio(run_dir, d, scores, k) for d in names})


def _fits(run_dir: Path, scores: pd.DataFrame) -> pd.DataFrame:
    """Outer-fit timings: ``fits.parquet`` when the run wrote one, else the ``fit_seconds``
    column that older runs kept in the scores table (repeated per metric, so deduplicated)."""
    if (run_dir / folder.FITS).exists():
        fits = folder.read_table(run_dir, folder.FITS)
    elif "fit_seconds" in scores:
        fits = scores.drop_duplicates(["dataset", "outer_fold", "learner", "config"])
    else:
        return pd.DataFrame(columns=folder.FIT_COLUMNS)
    fits = fits.reindex(columns=folder.FIT_COLUMNS)
    fits["fit_seconds"] = pd.to_numeric(fits["fit_seconds"], errors="coerce").astype(float)
    return fits


def _ratio(run_dir: Path, dataset: str, scores: pd.DataFrame, k: int | None = None) -> float:
    """n_test / n_train for the corrected t-test, from the stored splits.

    Without a split file the k-fold value 1/(k-1) is the honest fallback, with k the folds per
    repeat (repeated cross-validation has more folds in its tables than in each split).
    """
    saved = folder.saved_split(run_dir, dataset)
    if saved is not None:
        folds = saved.get("folds", [])
        ratios = [len(f["test"]) / len(f["train"]) for f in folds if f.get("train")]
        if ratios:
            return float(np.mean(ratios))
    k = k or scores.loc[scores["dataset"] == dataset, "outer_fold"].nunique()
    return 1 / (k - 1) if k > 1 else 1.0
