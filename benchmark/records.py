"""The records that pass between the layers: a cell, the events its search yields, what the store
gives back, and the run's progress events.

Neutral ground: ``search`` makes the cell's events, ``ray_session`` carries them (adding where and
at what cost they ran), ``store`` keeps them and gives them back as ``StoredCell`` records,
``results`` and the checks read those, and ``progress`` shows every event; none of those modules
imports another for them. Nothing here imports more than the standard library.
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


@dataclass(frozen=True)
class Where:
    """The worker that ran something: its Ray node, host name and process id (all None for what
    the driver recorded itself, e.g. a trial lost with its worker)."""

    node_id: str | None = None
    host: str | None = None
    pid: int | None = None


# ------------------------------------------------------------------ trials


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
        """The record's fields as a plain dict (shallow: the values are not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def best_epoch(self) -> int | None:
        """The epoch count early stopping chose on the inner validation split (deep learners,
        boosting with early stopping); the outer refit trains that long."""
        return self.attrs.get("best_epoch")

    @property
    def epochs(self) -> int | None:
        """Epochs trained over the inner splits (a population member's own)."""
        return self.attrs.get("epochs")

    @property
    def split_sha256(self) -> str | None:
        """The hash of the inner splits the trial was scored on."""
        return self.attrs.get("split_sha256")


@dataclass
class StoredTrial(TrialOutcome):
    """A numbered trial of a cell, as the store keeps it and gives it back (``Store.history``,
    ``StoredCell.trials``); ``search`` replays these into its sampler on a resume."""

    number: int = 0
    params: dict = field(default_factory=dict)  # Optuna's parameters (the tuned ones)
    where: Where = field(default_factory=Where)


@dataclass
class TrialEvent(StoredTrial):
    """A finished trial on its way from the worker to the store and to ``on_event``: what the
    store keeps, plus its cell and the Optuna distributions of its parameters."""

    cell: Cell | None = None
    distributions: dict = field(default_factory=dict)  # Optuna distributions of ``params``

    @classmethod
    def of(cls, outcome: TrialOutcome, cell: Cell, number: int, params: dict | None = None,
           distributions: dict | None = None) -> "TrialEvent":
        return cls(**outcome.as_dict(), cell=cell, number=number, params=dict(params or {}),
                   distributions=dict(distributions or {}))


# ------------------------------------------------------------------ a cell's outer evaluation


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


@dataclass
class Control:
    """One shuffled-label refit of the tuned configuration (``checks.controls``)."""

    seed: int  # which permutation of the training labels
    scores: dict  # metric -> value on the real test fold (empty when it failed)
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Predictions:
    """The tuned configuration's per-example outer test predictions (never for sensitive data)."""

    rows: list[int]  # the test fold's rows of the dataset
    values: list[list[float]]  # per row: class probabilities, or [prediction] for regression


@dataclass
class OuterEvent:
    """A cell's outer evaluation, the end of its search.

    ``default`` is the library default refit and tested; ``tuned`` the best trial's configuration
    (None when no trial completed), a copy of ``default`` when trial 0 was best; ``incumbents``
    the earlier best-so-far configurations, in trial order, tested only for the budget curves.
    The checks add the shuffled-label ``controls`` of the tuned configuration, the ``chance``
    level of each metric on the test fold, and its ``predictions``. The worker that ran it adds
    ``where``, its compute (``seconds`` and ``cpu_seconds``, outer refits and controls) and the
    thread pools the learner saw (``threads``).
    """

    cell: Cell
    default: OuterResult
    tuned: OuterResult | None = None
    incumbents: list[OuterResult] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    chance: dict = field(default_factory=dict)  # metric -> its chance level on the test fold
    predictions: Predictions | None = None
    where: Where = field(default_factory=Where)
    seconds: float | None = None
    cpu_seconds: float | None = None
    threads: dict | None = None

    @classmethod
    def lost(cls, cell: Cell, cause: str) -> "OuterEvent":
        """An outer evaluation whose task kept dying: default and tuned stored as failed."""
        return cls(cell, OuterResult.lost(cause), OuterResult.lost(cause))

    def tested(self) -> list[OuterResult]:
        """Every configuration refit and tested: the default, the incumbents, the tuned one."""
        return [self.default, *self.incumbents, *([self.tuned] if self.tuned else [])]


# ------------------------------------------------------------------ what the store gives back


@dataclass
class StoredCell:
    """A cell as stored: its trials in trial order and, once the cell is done, its outer
    evaluation (None before)."""

    cell: Cell
    trials: list[StoredTrial]
    outer: OuterEvent | None = None


# ------------------------------------------------------------------ the run's progress


@dataclass(frozen=True)
class RunStarted:
    """The cells a run is about to run: trials still to run per cell key."""

    cells: dict  # cell key -> trials to run
    cells_total: int | None = None  # every cell of the study, done before or not (None: cells)


@dataclass(frozen=True)
class Phase:
    """The run moved on: ``ray`` (starting or joining Ray, at ``address``), ``export``,
    ``checks`` or ``done``."""

    name: str
    address: str | None = None


@dataclass(frozen=True)
class ChecksProgress:
    """The checks' refits: ``done`` of ``total``."""

    done: int
    total: int
