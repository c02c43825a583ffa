"""The records that pass between the layers: a cell, and the events a cell's search yields.

Neutral ground: ``search`` makes these records, ``execution`` carries them, ``store`` and
``results`` keep and read them, and none of those modules imports another for them.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class Cell:
    """One (dataset, outer fold, learner): an Optuna study of its own."""

    dataset: str
    fold: int
    learner: str

    @property
    def key(self) -> str:
        return f"{self.dataset}/fold{self.fold}/{self.learner}"


@dataclass
class TrialOutcome:
    """What running one configuration gave, before the cell numbers it as a trial."""

    state: str  # "COMPLETE" or "FAIL"
    value: float | None  # mean inner-validation score (None for a failed trial)
    config: dict  # the full configuration, fixed settings included
    seconds: float  # the trial's cost (a population member: its share)
    error: str | None = None
    attrs: dict = field(default_factory=dict)  # inner scores, best epoch, split hash, ...

    @classmethod
    def failed(cls, config: dict, seconds: float, error: str, attrs: dict | None = None
               ) -> "TrialOutcome":
        return cls("FAIL", None, config, seconds, error, dict(attrs or {}))

    def as_dict(self) -> dict:
        """The record as a plain dict (shallow: the values are not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class TrialEvent(TrialOutcome):
    """A finished trial of a cell, as the store keeps it and progress shows it."""

    cell: Cell | None = None
    number: int = 0
    params: dict = field(default_factory=dict)  # Optuna's parameters (the tuned ones)
    distributions: dict = field(default_factory=dict)  # their Optuna distributions

    @classmethod
    def of(cls, outcome: TrialOutcome, cell: Cell, number: int, params: dict | None = None,
           distributions: dict | None = None) -> "TrialEvent":
        return cls(**outcome.as_dict(), cell=cell, number=number, params=dict(params or {}),
                   distributions=dict(distributions or {}))

    def as_event(self) -> dict:
        """The event dict that travels from the worker to the store and to ``on_event``."""
        return {"kind": "trial", **self.as_dict()}


@dataclass
class OuterResult:
    """One configuration refit on the outer training part and scored once on the test fold."""

    trial: int | None  # the trial whose configuration this is (None: never evaluated)
    config: dict
    fit_seconds: float | None
    scores: dict  # metric -> value on the outer test fold (empty when it failed)
    error: str | None = None

    @classmethod
    def lost(cls, cause: str) -> "OuterResult":
        """An outer evaluation that never ran to the end."""
        return cls(None, {}, None, {}, cause)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class OuterEvent:
    """A cell's outer evaluation: results by configuration name (``default``, ``tuned``, and
    ``incumbent<N>`` for the budget curves), each an ``OuterResult`` dict plus what the checks
    added to the tuned one (controls, chance, predictions)."""

    cell: Cell
    results: dict[str, dict]

    def as_event(self) -> dict:
        return {"kind": "outer", "cell": self.cell, "results": self.results}
