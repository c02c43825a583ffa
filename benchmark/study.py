"""A study: datasets x learners, one budget and one split rule, all declared in one YAML.

``load_study`` resolves names, checks everything that can be checked without compute (unknown
learners and datasets, bad search spaces, bad dataset manifests, data that cannot be split) and
raises one ConfigError listing every problem.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from . import learners, paths
from .errors import ConfigError, Problem
from .specs import DatasetSpec, Spec, parse, read_yaml


class Budget(Spec):
    trials: int = Field(10, ge=1, description="trials per (dataset, outer fold, learner) cell")
    seconds: float | None = Field(None, gt=0, description="optional wall-clock cap per cell")


class SplitRule(Spec):
    outer_folds: int = Field(3, ge=2)
    inner: Literal["holdout", "kfold"] = "holdout"
    inner_folds: int = Field(5, ge=2)
    holdout_fraction: float = Field(0.2, gt=0, lt=1)


class Resources(Spec):
    cpus_per_trial: int = Field(1, ge=1)
    gpus_per_deep_trial: float = Field(0.25, ge=0, le=1)  # asked only when the cluster has GPUs
    retries: int = Field(2, ge=0)  # resubmissions of a cell whose worker died


class StudySpec(Spec):
    name: str
    description: str = ""
    datasets: list[str]
    learners: list[str]
    seed: int = 0
    metric: str = "auto"
    budget: Budget = Budget()
    splits: SplitRule = SplitRule()
    resources: Resources = Resources()
    spaces: dict[str, str] = {}  # learner -> a search-space YAML replacing the bundled one
    path: str = ""


def study_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in {".yaml", ".yml"} or p.exists():
        return p
    return paths.STUDIES / f"{name_or_path}.yaml"


def bundled_studies() -> list[str]:
    return sorted(p.stem for p in paths.STUDIES.glob("*.yaml"))


def load_study(name_or_path: str, trials: int | None = None, seed: int | None = None) -> StudySpec:
    path = study_path(name_or_path)
    if not path.exists():
        raise ConfigError([Problem(str(name_or_path), "must be a study YAML file or a bundled study",
                                   fix=f"use one of {bundled_studies()} or a path to a .yaml file")])
    data = read_yaml(path) or {}
    data.setdefault("name", path.stem)
    study = parse(StudySpec, {**data, "path": str(path)}, str(path))
    update = {}
    if trials is not None:
        update["budget"] = study.budget.model_copy(update={"trials": trials})
    if seed is not None:
        update["seed"] = seed
    study = study.model_copy(update=update)
    problems = _check_names(study, path)
    if problems:
        raise ConfigError(problems)
    return study


def _check_names(study: StudySpec, path: Path) -> list[Problem]:
    from . import metrics

    problems = []
    for i, name in enumerate(study.learners):
        if name not in learners.ALL:
            problems.append(Problem(f"{path}: learners[{i}]", "must be a known learner", name,
                                    f"use one of {learners.ALL}"))
    known_metrics = {**metrics.CLASSIFICATION, **metrics.REGRESSION}
    if study.metric != "auto" and study.metric not in known_metrics:
        problems.append(Problem(f"{path}: metric", "must be `auto` or a known metric", study.metric,
                                f"use one of {sorted(known_metrics)}"))
    for learner in study.spaces:
        if learner not in study.learners:
            problems.append(Problem(f"{path}: spaces.{learner}", "must name a learner of the study",
                                    learner, f"use one of {study.learners}"))
    if len(set(study.learners)) != len(study.learners):
        problems.append(Problem(f"{path}: learners", "must not repeat a learner", study.learners))
    return problems


def space_file(study: StudySpec, learner: str) -> Path | None:
    """The study's own search space for ``learner`` (relative to the study file), if it has one."""
    if learner not in study.spaces:
        return None
    p = Path(study.spaces[learner])
    return p if p.is_absolute() or not study.path else Path(study.path).parent / p


def dataset_ref(study: StudySpec, name: str) -> str:
    """A dataset entry is a bundled name or a path relative to the study file."""
    p = Path(name)
    if p.suffix in {".yaml", ".yml"} and not p.is_absolute() and study.path:
        candidate = Path(study.path).parent / p
        if candidate.exists():
            return str(candidate)
    return name
