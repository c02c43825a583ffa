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
from .specs import Spec, parse_partial, read_yaml


class Budget(Spec):
    trials: int = Field(10, ge=1, description="trials per (dataset, outer fold, learner) cell")
    seconds: float | None = Field(None, gt=0, description="optional wall-clock cap per cell")


class SplitRule(Spec):
    outer_folds: int = Field(3, ge=2)
    # Repeated outer cross-validation: ``repeats`` x ``outer_folds`` outer folds, each repeat
    # shuffled with its own seed; fold index f = repeat * outer_folds + fold in every table.
    repeats: int = Field(1, ge=1)
    inner: Literal["holdout", "kfold"] = "holdout"
    inner_folds: int = Field(5, ge=2)
    holdout_fraction: float = Field(0.2, gt=0, lt=1)


class Resources(Spec):
    cpus_per_trial: int = Field(1, ge=1)
    gpus_per_deep_trial: float = Field(0.25, ge=0, le=1)  # asked only when the cluster has GPUs
    retries: int = Field(2, ge=0)  # resubmissions of a cell whose worker died


class Checks(Spec):
    """Biology-grade checks (``benchmark.checks``), after Lee et al. 2020, Tips 1, 4 and 7-10.

    They are on by default because each one guards against a way a benchmark fools its reader;
    the costly parts (learning curve) are opt-in.
    """

    enabled: bool = True
    # Shuffled-label refits per cell (0: none). Each outer fold permutes with its own seed, so a
    # learner gets (outer folds x controls) control scores: 3 with the quick study's defaults.
    controls: int = Field(1, ge=0, description="shuffled-label refits per cell (0: none)")
    control_tolerance: float = Field(0.1, gt=0, le=1,
                                     description="how far above chance a control may score")
    random_split: bool = Field(True, description="grouped vs random split gap, grouped datasets")
    importance: bool = Field(True, description="permutation importance of the best models")
    importance_features: int = Field(50, ge=1, description="features scored (top by association)")
    importance_repeats: int = Field(2, ge=1, description="shuffles per feature and fold")
    learning_curve: bool = Field(False, description="refits on 25/50/75% of the outer training part")


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
    checks: Checks = Checks()
    path: str = ""


def study_path(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix in {".yaml", ".yml"} or p.exists():
        return p
    return paths.STUDIES / f"{name_or_path}.yaml"


def bundled_studies() -> list[str]:
    return sorted(p.stem for p in paths.STUDIES.glob("*.yaml"))


def load_study(name_or_path: str, trials: int | None = None, seed: int | None = None) -> StudySpec:
    """The study, with the command line's overrides; raises ConfigError with every problem."""
    study, problems = read_study(name_or_path, trials, seed)
    if problems:
        raise ConfigError(problems)
    return study


def read_study(name_or_path: str, trials: int | None = None, seed: int | None = None
               ) -> tuple[StudySpec | None, list[Problem]]:
    """The study and the problems of its YAML and of the overrides (``--trials``, ``--seed``).

    Keys that break the schema are reported and left at their defaults, so that the rest of the
    study (learners, datasets, their files and columns) can still be checked and every problem
    reported at once; the study is None when its name, datasets or learners are unusable.
    """
    path = study_path(name_or_path)
    if not path.exists():
        return None, [Problem(str(name_or_path), "must be a study YAML file or a bundled study",
                              fix=f"use one of {bundled_studies()} or a path to a .yaml file")]
    data = read_yaml(path) or {}
    problems = []
    if trials is not None and trials < 1:
        problems.append(Problem("--trials", "must be at least 1 (trials per cell)", trials,
                                "give a positive number, e.g. --trials 10"))
        trials = None
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
        if trials is not None:
            budget = data.get("budget") if isinstance(data.get("budget"), dict) else {}
            data["budget"] = {**budget, "trials": trials}
        if seed is not None:
            data["seed"] = seed
        data["path"] = str(path)
    study, found = parse_partial(StudySpec, data, str(path))
    return study, problems + found


def check_names(study: StudySpec) -> list[Problem]:
    """Unknown learners or metrics, overrides for learners not in the study."""
    from . import metrics

    path = study.path
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
