"""Search spaces: ``search_spaces/<learner>.yaml`` mapped to Optuna distributions.

The YAML holds typed ranges (``params``), settings held fixed for every trial (``fixed``), the
learner's library default configuration (``default``, evaluated as trial 0) and a ``source`` line
saying where the ranges come from.

On sequence and image data the harness adds one parameter to every classical learner's space,
``representation`` (``REPRESENTATION``): a categorical over the flat views the modality offers
(``benchmark.data.views.representations``: ``kmer<j>`` counts and ``onehot`` for sequences,
``pixels`` and ``pool<f>`` for images), so the trial budget that tunes the learner also picks
what it reads, as a deep learner's architecture decides what it sees. Trial 0 reads what the
learner declares in ``VIEWS``: k-mer counts at the dataset's k, or flat pixels. Tabular data gets
no such parameter. A space file may fix (``fixed: {representation: onehot}``) or narrow it
(``params``); the harness then leaves it as written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import optuna
from pydantic import model_validator
from pydantic_core import PydanticCustomError

from . import paths
from .errors import ConfigError, Problem
from .specs import Spec, parse, read_yaml


class ParamSpec(Spec):
    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> "ParamSpec":
        if self.type == "categorical":
            if not self.choices:
                _refuse("a categorical parameter needs a non-empty `choices` list",
                        "add choices: [a, b, ...]")
            return self
        if self.low is None or self.high is None:
            _refuse(f"a {self.type} parameter needs `low` and `high`",
                    f"add both, e.g. {{type: {self.type}, low: 1, high: 10}}")
        if self.low > self.high:
            _refuse(f"`low <= high` must hold, but got (low={self.low}, high={self.high})",
                    "swap low and high")
        if self.log and self.low <= 0:
            _refuse(f"a log-scaled range needs `low > 0`, but got low={self.low}",
                    "set low to a small positive number (e.g. 1e-4), or log: false")
        if self.log and self.step is not None:
            _refuse("`step` cannot be combined with `log: true`", "remove step, or set log: false")
        return self

    def distribution(self) -> optuna.distributions.BaseDistribution:
        if self.type == "categorical":
            return optuna.distributions.CategoricalDistribution(self.choices)
        if self.type == "int":
            return optuna.distributions.IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return optuna.distributions.FloatDistribution(self.low, self.high, log=self.log, step=self.step)


class SearchSpace(Spec):
    learner: str
    source: str
    params: dict[str, ParamSpec]
    fixed: dict[str, Any] = {}
    default: dict[str, Any] = {}
    path: str = ""

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return {name: p.distribution() for name, p in self.params.items()}

    def default_config(self) -> dict[str, Any]:
        """The full default configuration: fixed settings plus the library defaults."""
        return {**self.fixed, **self.default}

    def default_params(self) -> dict[str, Any]:
        """The part of the default configuration that lies inside the search space.

        These are told to the sampler as trial 0's parameters, so TPE learns from the default.
        """
        dists = self.distributions()
        return {k: v for k, v in self.default.items() if k in dists and _contains(dists[k], v)}

    def config(self, params: dict[str, Any]) -> dict[str, Any]:
        """A trial's full configuration: fixed settings overlaid with the sampled parameters."""
        return {**self.fixed, **params}

    def with_choice(self, name: str, choices: list[Any], default: Any) -> "SearchSpace":
        """A copy with one more categorical parameter and its trial-0 value (the harness's
        ``representation``); the space as loaded is left unchanged for other datasets."""
        return self.model_copy(update={
            "params": {**self.params, name: ParamSpec(type="categorical", choices=list(choices))},
            "default": {**self.default, name: default}})


REPRESENTATION = "representation"


def _refuse(rule: str, fix: str) -> None:
    """A schema error that carries its fix (``specs.parse`` prints it after "Fix:")."""
    raise PydanticCustomError("search_space", rule.replace("{", "{{").replace("}", "}}"),
                              {"fix": fix})


def _contains(dist: optuna.distributions.BaseDistribution, value: Any) -> bool:
    """Whether ``value`` lies in ``dist`` (its choices; its range and step), by the
    distributions' public attributes only."""
    if isinstance(dist, optuna.distributions.CategoricalDistribution):
        return any(c == value and isinstance(c, bool) == isinstance(value, bool)
                   for c in dist.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(dist, optuna.distributions.IntDistribution) and value != int(value):
        return False
    if not dist.low <= value <= dist.high:
        return False
    steps = (value - dist.low) / dist.step if dist.step else 0.0
    return abs(steps - round(steps)) < 1e-9


def space_path(learner: str) -> Path:
    return paths.SEARCH_SPACES / f"{learner}.yaml"


def load_space(learner: str, path: Path | None = None) -> SearchSpace:
    path = Path(path) if path else space_path(learner)
    space = parse(SearchSpace, {**(read_yaml(path) or {}), "path": str(path)}, str(path))
    problems = []
    if space.learner != learner:
        problems.append(Problem(f"{path}: learner", f"must name the learner `{learner}`",
                                space.learner, f"set `learner: {learner}`"))
    overlap = set(space.fixed) & set(space.params)
    if overlap:
        problems.append(Problem(f"{path}: fixed", "a setting cannot be both fixed and tuned",
                                sorted(overlap), "remove it from `fixed` or from `params`"))
    if problems:
        raise ConfigError(problems)
    return space
