"""Validation and planning: a study file in, a ``StudyPlan`` out, every problem found before
compute.

``prepare`` reads the study, its dataset and search-space files, loads the data and makes each
dataset's split plan (``splits.SplitPlan``); it raises one ConfigError naming every problem. The
``StudyPlan`` answers what the run needs to know: its cells, each pair's trial count, each cell's
settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import data as data_layer
from . import learners, metrics, run_manifest
from .data.dataset import Dataset
from .data.spec_file import resolve as resolve_spec
from .errors import ConfigError, Problem, raise_if
from .records import Cell
from .search import CellSettings, cell_space, has_hyperparameters
from .spaces import SearchSpace, load_space
from .splits import SplitPlan, make_plan
from .study import StudySpec, check_names, dataset_ref, read_study, space_file


@dataclass
class StudyPlan:
    """A validated study, ready to run: its data loaded, spaces read, metrics chosen, splits made."""

    study: StudySpec
    datasets: dict[str, Dataset]
    spaces: dict[str, SearchSpace]
    metrics: dict[str, str]
    splits: dict[str, SplitPlan]
    pairs: list[tuple[str, str]]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    _digests: dict[str, str] = field(default_factory=dict, repr=False)
    gpus: bool = False  # whether deep trials get GPUs (known once Ray is up): the population's size

    def content_sha256(self, dataset: str) -> str:
        """The dataset's content hash (``run_manifest.dataset_digest``), computed once."""
        if dataset not in self._digests:
            self._digests[dataset] = run_manifest.dataset_digest(self.datasets[dataset])
        return self._digests[dataset]

    def cells(self) -> list[Cell]:
        n = self.study.splits.outer_folds * self.study.splits.repeats  # (repeat, fold) flattened
        return [Cell(d, k, l) for d, l in self.pairs for k in range(n)]

    def tunes(self, dataset: str, learner: str) -> bool:
        """Whether the learner has anything to tune on this dataset (``search.has_hyperparameters``)."""
        space = cell_space(self.spaces[learner], learners.get(learner), self.datasets[dataset])
        return has_hyperparameters(space)

    def trials(self, dataset: str, learner: str) -> int:
        """The pair's trials per cell: the budget, or 1 (trial 0, the library default) for a
        learner with nothing to tune on this dataset."""
        return self.study.budget.trials if self.tunes(dataset, learner) else 1

    def settings(self, dataset: str, threads: int, learner: str | None = None) -> CellSettings:
        """A cell's settings; ``learner`` sets its trial count (default: the study's budget)."""
        s = self.study
        trials = self.trials(dataset, learner) if learner else s.budget.trials
        return CellSettings(task=self.datasets[dataset].task, metric=self.metrics[dataset],
                            trials=trials, seconds=s.budget.seconds, seed=s.seed,
                            threads=threads, n_startup_trials=min(10, max(3, s.budget.trials // 3)),
                            controls=s.checks.controls if s.checks.enabled else 0,
                            population=s.resources.population_for(self.gpus))

    def direction(self, dataset: str) -> str:
        return "maximize" if metrics.higher_is_better(self.metrics[dataset]) else "minimize"


def _collect(problems: list[Problem], fn: Callable, *args):
    try:
        return fn(*args)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def prepare(study_ref: str, trials: int | None = None, seed: int | None = None) -> StudyPlan:
    """Read and check the study, load its data and plan its splits; one ConfigError with every
    problem, before any compute is spent."""
    study, problems = read_study(study_ref, trials=trials, seed=seed)
    if study is None:
        raise ConfigError(problems)
    problems += check_names(study)
    specs = {}
    for i, name in enumerate(study.datasets):
        spec = _collect(problems, _load_spec, study, i, name)
        spec_problems = data_layer.check_spec(spec) if spec is not None else []
        problems.extend(spec_problems)
        if spec is not None and not spec_problems:
            specs[spec.name] = spec
    spaces = {l: s for l in study.learners if l in learners.ALL
              and (s := _collect(problems, load_space, l, space_file(study, l))) is not None}
    k = study.splits.outer_folds
    # Data problems are reported with the others: loading reads files but fits nothing.
    datasets = {n: d for n, s in specs.items()
                if (d := _collect(problems, data_layer.load_dataset, s, k)) is not None}
    raise_if(problems)
    chosen = {}
    for name, ds in datasets.items():
        problems.extend(_check_dataset(study, ds, k))
        chosen[name] = _metric(study, ds, problems)
    pairs, skipped = _pairs(study, datasets)
    if not pairs:
        problems.append(Problem(f"{study.path}: learners", "at least one learner must accept one "
                                "of the datasets", study.learners, "add a learner for the datasets' modality"))
    raise_if(problems)
    plans = {n: p for n, d in datasets.items()
             if (p := _collect(problems, _plan, study, d)) is not None}
    raise_if(problems)
    return StudyPlan(study, datasets, spaces, chosen, plans, pairs, skipped)


def _load_spec(study: StudySpec, i: int, name: str):
    """A dataset entry's YAML spec; a YAML that is not there is named by the study key."""
    path = resolve_spec(dataset_ref(study, name))
    if not path.exists():
        raise ConfigError([Problem(
            f"{study.path}: datasets[{i}]", "must be a bundled dataset or a dataset YAML that "
            "exists", name, f"the file would be {path.resolve()}: check the path (relative to "
            "the study file), or use `python -m benchmark list` for the bundled names")])
    return data_layer.load_spec(path)


def _plan(study: StudySpec, ds: Dataset) -> SplitPlan:
    s = study.splits
    try:
        return make_plan(ds.name, ds.y, ds.groups, seed=study.seed, outer_folds=s.outer_folds,
                         repeats=s.repeats, inner=s.inner, inner_folds=s.inner_folds,
                         holdout_fraction=s.holdout_fraction, stratify=ds.task != "regression")
    except ValueError as exc:  # e.g. too few groups for the folds
        raise ConfigError([Problem(f"{study.path}: splits (dataset {ds.name})",
                                   f"the split plan must be possible: {exc}", fix="use fewer "
                                   "folds, a larger holdout_fraction, or a dataset with more groups")])


def _check_dataset(study: StudySpec, ds: Dataset, k: int) -> list[Problem]:
    if ds.groups is None:
        return []
    n_groups = len(set(ds.groups.tolist()))
    if n_groups < k:
        return [Problem(f"dataset {ds.name}: group", f"needs at least as many groups as outer folds "
                        f"({k}) so that no group straddles train and test", n_groups,
                        "use fewer outer folds (splits.outer_folds)")]
    return []


def _metric(study: StudySpec, ds: Dataset, problems: list[Problem]) -> str:
    import numpy as np

    if study.metric == "auto":
        counts = np.bincount(ds.y) if ds.task != "regression" else None
        return metrics.default_metric(ds.task, counts)
    if study.metric not in metrics.panel(ds.task):
        problems.append(Problem(f"{study.path}: metric", f"must suit the {ds.task} dataset "
                                f"{ds.name}", study.metric, f"use one of {sorted(metrics.panel(ds.task))}"))
    return study.metric


def _pairs(study: StudySpec, datasets: dict[str, Dataset]):
    pairs, skipped = [], []
    for name, ds in datasets.items():
        for learner in study.learners:
            module = learners.get(learner)
            if not learners.accepts(module, ds.modality, ds.task):
                skipped.append((name, learner, f"does not accept {ds.modality} {ds.task} data"))
            elif not any(name in (o, Path(o).stem) for o in study.only.get(learner, [name])):
                skipped.append((name, learner, "the study runs it only on "
                                + ", ".join(study.only[learner])))
            else:
                pairs.append((name, learner))
    return pairs, skipped
