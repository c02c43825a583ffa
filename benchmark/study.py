"""A study: datasets x learners, one budget and one split rule, all declared in one YAML.

``load_study`` resolves names, checks everything that can be checked without compute (unknown
learners and datasets, bad search spaces, bad dataset manifests, data that cannot be split) and
raises one ConfigError listing every problem.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from . import learners, paths
from .errors import ConfigError, Problem, did_you_mean
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
    # Deep-learner trials per batch, trained together as one population (benchmark.nn.population);
    # unset: chosen from the device the deep trials get. A GPU runs many small networks for the
    # price of one; a CPU gains less, and a batch is asked of TPE before any of it has finished.
    population: int | None = Field(None, ge=1, le=256, description="deep trials trained together")

    def population_for(self, gpus: bool) -> int:
        """The population size: the study's, else 32 where deep trials get a GPU, 8 on CPUs."""
        return self.population or (32 if gpus and self.gpus_per_deep_trial > 0 else 8)


class Checks(Spec):
    """Biology-grade checks (``benchmark.checks``), after Lee et al. 2020, Tips 1, 4 and 7-10.

    They are on by default because each one guards against a way a benchmark fools its reader;
    the costly parts (learning curve) are opt-in.
    """

    enabled: bool = True
    # Shuffled-label refits per cell (0: none). "auto" sizes them to the outer test fold (about
    # 10 at 24 test examples, 2 from about 150), so the decision has a usable null distribution
    # where a fold alone is noisy (benchmark.checks.controls.refits).
    controls: Literal["auto"] | int = Field(
        "auto", description="shuffled-label refits per cell: auto, or a number (0: none)")
    # A learner is flagged when its mean control beats the null mean by at least this much and
    # significantly (one-sided, Holm over the dataset's learners, 0.05): the floor keeps a
    # negligible but measurable excess on a large test fold from being called leakage.
    control_tolerance: float = Field(0.02, ge=0, le=1,
                                     description="smallest excess over chance flagged as leakage")
    random_split: bool = Field(True, description="grouped vs random split gap, grouped datasets")
    importance: bool = Field(True, description="permutation importance of the best models")
    importance_features: int = Field(50, ge=1, description="features scored (top by association)")
    importance_repeats: int = Field(2, ge=1, description="shuffles per feature and fold")
    learning_curve: bool = Field(False, description="refits on 25/50/75% of the outer training part")

    @field_validator("controls", mode="before")
    @classmethod
    def _controls(cls, value):
        """One message for both spellings, instead of one per member of the union."""
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)
                               and value >= 0):
            return value
        raise ValueError("must be auto or a whole number of refits per cell (0 or more)")


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
    # learner -> the only datasets it runs on (default: every dataset whose modality and task it
    # accepts); the others are listed as skipped, with this reason, in the manifest and the report
    only: dict[str, list[str]] = {}
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
        return None, [_missing_study(str(name_or_path), path)]
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
                                    f"use one of {learners.ALL}"
                                    + did_you_mean(str(name), list(learners.ALL))))
    known_metrics = {**metrics.CLASSIFICATION, **metrics.REGRESSION}
    if study.metric != "auto" and study.metric not in known_metrics:
        problems.append(Problem(f"{path}: metric", "must be `auto` or a known metric", study.metric,
                                f"use one of {sorted(known_metrics)}"))
    for learner in study.spaces:
        if learner not in study.learners:
            problems.append(Problem(f"{path}: spaces.{learner}", "must name a learner of the study",
                                    learner, f"use one of {study.learners}"))
    if len(set(study.learners)) != len(study.learners):
        problems.append(Problem(f"{path}: learners", "must not repeat a learner", study.learners,
                                "list each learner once"))
    return problems + _only(study) + _empty_lists(study) + _repeated_datasets(study)


def _only(study: StudySpec) -> list[Problem]:
    """``only`` names learners and datasets of the study."""
    problems, known = [], set(study.datasets) | {Path(d).stem for d in study.datasets}
    for learner, names in study.only.items():
        if learner not in study.learners:
            problems.append(Problem(f"{study.path}: only.{learner}", "must name a learner of the "
                                    "study", learner, f"use one of {study.learners}"))
        for i, name in enumerate(names):
            if name not in known:
                problems.append(Problem(f"{study.path}: only.{learner}[{i}]", "must name a "
                                        "dataset of the study", name, f"use one of {study.datasets}"))
    return problems


def _empty_lists(study: StudySpec) -> list[Problem]:
    """An empty list is its own problem, not 'no learner accepts a dataset' further on."""
    fixes = {"datasets": "add a bundled dataset (see `python -m benchmark list`) or the path of "
                         "a dataset YAML, e.g. datasets: [breast_cancer]",
             "learners": f"add learners, e.g. learners: [logreg, random_forest] (known: {learners.ALL})"}
    return [Problem(f"{study.path}: {key}", "must list at least one entry; the list is empty", [],
                    fix) for key, fix in fixes.items() if not getattr(study, key)]


def _repeated_datasets(study: StudySpec) -> list[Problem]:
    repeated = sorted({d for d in study.datasets if study.datasets.count(d) > 1})
    if not repeated:
        return []
    return [Problem(f"{study.path}: datasets", "must not repeat a dataset", repeated,
                    "list each dataset once")]


def _missing_study(given: str, path: Path) -> Problem:
    """A study path on the command line starts at the working directory; a bare word is a
    bundled study's name."""
    fix = f"use one of {bundled_studies()} or the path of a study YAML"
    if Path(given).suffix in {".yaml", ".yml"} or len(Path(given).parts) > 1:
        return Problem(given, "must be an existing study YAML (a path on the command line starts "
                       "at the working directory)", str(path.resolve()), f"check the path, or {fix}")
    return Problem(given, "must be a bundled study name or the path of a study YAML", given,
                   fix + did_you_mean(given, bundled_studies()))


def space_file(study: StudySpec, learner: str) -> Path | None:
    """The study's own search space for ``learner`` (relative to the study file), if it has one."""
    if learner not in study.spaces:
        return None
    p = Path(study.spaces[learner])
    return p if p.is_absolute() or not study.path else Path(study.path).parent / p


def bundled_datasets() -> list[str]:
    return sorted(p.stem for p in paths.DATASETS.glob("*.yaml"))


def _is_path(entry: Path) -> bool:
    return entry.suffix in {".yaml", ".yml"} or len(entry.parts) > 1


def dataset_ref(study: StudySpec, name: str) -> str:
    """The manifest a ``datasets:`` entry names: a bundled name as it is, or the path of a dataset
    YAML, relative to the study file's folder only (never the working directory).

    Raises ConfigError naming the study file and ``datasets[i]`` when neither exists.
    """
    i = study.datasets.index(name) if name in study.datasets else 0
    at = f"{study.path or study.name}: datasets[{i}]"
    entry = Path(name).expanduser()
    if _is_path(entry):
        path = entry if entry.is_absolute() or not study.path else Path(study.path).parent / entry
        if path.is_file():
            return str(path)
        raise ConfigError([Problem(at, "must be a bundled dataset or an existing dataset YAML (a "
                                   "relative path starts at the study file's folder)", name,
                                   f"the file would be {path.resolve()}: fix the path, or use a "
                                   f"bundled dataset: {bundled_datasets()}")])
    if name in bundled_datasets():
        return name
    raise ConfigError([Problem(at, "must be a bundled dataset name or the path of a dataset YAML",
                               name, f"use one of {bundled_datasets()}{did_you_mean(name, bundled_datasets())}"
                               ", or a path ending in .yaml (relative to the study file's folder)")])
