"""One cell's search: a seeded Optuna study over one (dataset, outer fold, learner).

This module knows nothing of Ray: ``run_cell`` is a plain generator that yields a ``TrialEvent``
for each finished trial, then an ``OuterEvent`` (``records``), so the Ray layer can stream them to
the store as they happen. Trials run in batches inside a cell: one trial at a time for classical
learners, ``CellSettings.population`` at a time for deep learners that train populations
(``benchmark.nn.population``); no batch crosses the end of TPE's random start-up trials
(``batch``). Before each ask the sampler is reseeded from (study seed, cell, trial number), and
TPE's constant liar spreads a batch's asks, so a cell resumed from its stored history proposes
exactly what an uninterrupted run would have proposed: a batch lost to a crash is asked again
whole, and its trials already stored are told, never run.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np
import optuna

from . import checks, learners, metrics
from .data import views
from .data.dataset import Dataset
from .fitting import build, features, fit, predict, score, score_all, view_name
from .records import Cell, OuterEvent, OuterResult, StoredTrial, TrialEvent, TrialOutcome
from .seeding import derive_seed
from .spaces import REPRESENTATION, SearchSpace
from .splits import Fold, inner_digest

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class CellSettings:
    task: str
    metric: str
    trials: int  # the budget: trials per cell, failed ones included
    seconds: float | None  # optional cap on the seconds of a cell's trials, across resumes
    seed: int  # the study seed
    threads: int = 1
    n_startup_trials: int = 4
    controls: int = 1  # shuffled-label refits of the tuned configuration (benchmark.checks)
    population: int = 1  # deep configurations per batch, trained together where the learner can


def _direction(metric: str) -> str:
    return "maximize" if metrics.higher_is_better(metric) else "minimize"


def cell_space(space: SearchSpace, module, data: Dataset) -> SearchSpace:
    """The learner's space for this dataset: a learner that reads flat features (every
    classical learner, and the MLP and ResNet-MLP) on sequences or images also tunes its
    ``representation`` (a choice of flat views, trial 0 reading its declared view), so the
    equal budget covers what it reads. Learners with a view of their own (the CNNs), tabular
    data and a space that fixes or lists ``representation`` itself are left as they are."""
    reps = views.representations(data.modality, data.views)
    if (module.VIEWS.get(data.modality) != "tabular" or len(reps) < 2
            or REPRESENTATION in space.params or REPRESENTATION in space.fixed):
        return space
    default = next(r for r, key in reps.items() if key == module.VIEWS[data.modality])
    return space.with_choice(REPRESENTATION, list(reps), default)


def has_hyperparameters(space: SearchSpace) -> bool:
    """Whether the cell's space tunes anything. A learner with nothing to tune (a pretrained
    model, or a space with no ``params``) runs trial 0, its library default, once per cell:
    repeating one configuration would spend the budget on nothing."""
    return bool(space.params)


def evaluate(module, config: dict, data: Dataset, fold: Fold, metric: str, seed: int,
             threads: int) -> tuple[float, dict]:
    """Mean validation score of ``config`` over the fold's inner splits, plus trial facts."""
    scores, epochs = [], []
    X = features(module, config, data)
    for train, val in fold.inner:
        model = fit(module, config, data, train, seed, threads, validation=val)
        pred = predict(model, X[val], data.task, data.n_classes)
        scores.append(score(data, metric, val, pred))
        if hasattr(model, "best_epoch_"):
            epochs.append(int(model.best_epoch_))
    return _summary(scores, epochs, metric)


def _summary(scores: list[float], best: list[int], metric: str, ran: int | None = None
             ) -> tuple[float, dict]:
    value = float(np.mean(scores))
    if not math.isfinite(value):
        raise FloatingPointError(f"validation {metric} is not finite ({value})")
    attrs = {"inner_scores": [float(s) for s in scores]}
    if best:
        attrs["best_epoch"] = max(1, int(round(np.mean(best))))
    if ran is not None:
        attrs["epochs"] = int(ran)  # epochs trained over the inner splits: the trial's cost
    return value, attrs


def evaluate_batch(module, configs: list[dict], data: Dataset, fold: Fold, metric: str,
                   seeds: list[int], threads: int) -> list[tuple[float, dict, float] | "Failure"]:
    """``evaluate`` for several configurations of a learner that trains populations: on each
    inner split, the configurations that read the same array are fitted together
    (``module.fit_population``). Each gets ``(value, attrs, seconds)`` or its own error, where
    ``seconds`` is its share: the training time of each epoch divided among the members that
    were training in it, plus its own scoring."""
    n = len(configs)
    scores, best, ran, seconds = [[] for _ in configs], [[] for _ in configs], [0] * n, [0.0] * n
    errors: list[Exception | None] = [None] * n
    for train, val in fold.inner:
        for members in _same_input(module, configs, data):
            live = [i for i in members if errors[i] is None]
            if not live:
                continue
            X = features(module, configs[live[0]], data)
            models = {}
            for i in live:
                try:
                    models[i] = build(module, configs[i], data.task, seeds[i], threads)
                except Exception as exc:  # noqa: BLE001 - a member fails alone
                    errors[i] = exc
            fitted = module.fit_population(list(models.values()), X[train], data.y[train],
                                           (X[val], data.y[val]))
            for (i, model), error in zip(models.items(), fitted):
                ran[i] += int(getattr(model, "n_epochs_", 0) or 0)
                seconds[i] += float(getattr(model, "fit_seconds_", 0.0) or 0.0)
                if error is not None:
                    errors[i] = error
                    continue
                t0 = time.perf_counter()
                pred = predict(model, X[val], data.task, data.n_classes)
                scores[i].append(score(data, metric, val, pred))
                best[i].append(int(model.best_epoch_))
                seconds[i] += time.perf_counter() - t0
    out: list = []
    for i in range(n):
        if errors[i] is None:
            try:
                out.append(_summary(scores[i], best[i], metric, ran[i]) + (seconds[i],))
                continue
            except FloatingPointError as exc:
                errors[i] = exc
        out.append(Failure(errors[i], ran[i], seconds[i]))
    return out


@dataclass
class Failure:
    """A member of a batch that failed: its error and what it had cost."""

    error: BaseException
    epochs: int = 0
    seconds: float = 0.0


def _same_input(module, configs: list[dict], data: Dataset) -> list[list[int]]:
    """Configurations grouped by the array they read (their ``representation``), in order."""
    groups: dict = {}
    for i, config in enumerate(configs):
        try:
            key = (view_name(module, config, data), REPRESENTATION in config)
        except ValueError:
            key = ("?", i)  # an unknown representation fails alone, in ``features``
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def population_size(module, settings: CellSettings) -> int:
    """How many trials a batch holds: the study's population for a learner that trains
    populations, else one (classical learners run as before, one trial at a time)."""
    return max(1, int(settings.population)) if hasattr(module, "fit_population") else 1


def _ask(study: optuna.Study, space: SearchSpace, start: int, count: int, cell_seed: int,
         n_startup: int) -> list[tuple[optuna.trial.Trial, dict]]:
    """A batch of ``count`` trials numbered from ``start``. Trial 0 is the library default; the
    others come from TPE reseeded per trial number (a batch of one asks what one trial at a time
    always asked), its constant liar treating the batch's earlier asks as running so that one
    batch does not ask the same configuration M times."""
    out = []
    for number in range(start, start + count):
        study.sampler = optuna.samplers.TPESampler(
            seed=derive_seed(cell_seed, number), n_startup_trials=n_startup, constant_liar=True)
        if number == 0:
            params = space.default_params()
            study.enqueue_trial(params)
            dists = {k: d for k, d in space.distributions().items() if k in params}
            out.append((study.ask(dists), space.default_config()))
        else:
            trial = study.ask(space.distributions())
            out.append((trial, space.config(trial.params)))
    return out


def restore(study: optuna.Study, history: list[StoredTrial], space: SearchSpace) -> None:
    """Replay stored trials into an in-memory study so the sampler sees them.

    ``space`` must be the cell's space (``cell_space``), so a stored ``representation`` is
    replayed with its distribution; trials stored before it existed simply lack it.
    """
    dists = space.distributions()
    for h in history:
        study.add_trial(optuna.trial.create_trial(
            state=optuna.trial.TrialState[h.state], value=h.value,
            params=h.params, distributions={k: dists[k] for k in h.params},
            user_attrs={"config": h.config, **h.attrs}))


def run_cell(cell: Cell, data: Dataset, fold: Fold, space: SearchSpace, settings: CellSettings,
             history: list[StoredTrial] | None = None) -> Iterator[TrialEvent | OuterEvent]:
    """Run the cell's remaining trials in batches, then the outer evaluation; yield one event each.

    Batch boundaries depend on the batch size and the budget only (``batch``), so a cell resumed
    mid-batch asks that batch again whole (same seeds, same configurations) and runs only the
    trials not stored."""
    module = learners.get(cell.learner)
    space = cell_space(space, module, data)
    history = history or []
    size = population_size(module, settings)
    study = optuna.create_study(direction=_direction(settings.metric))
    number = len(history)
    start = batch(number, size, settings)[0]
    restore(study, history[:start], space)
    cell_seed = derive_seed(settings.seed, cell.dataset, cell.fold, cell.learner)
    started = time.perf_counter() - sum(h.seconds or 0.0 for h in history)
    while number < settings.trials:
        if out_of_time(settings, time.perf_counter() - started):
            break
        asked = _ask(study, space, start, batch(start, size, settings)[1] - start, cell_seed,
                     settings.n_startup_trials)
        for (trial, _), stored in zip(asked, history[start:number]):
            _tell(study, trial, stored)
        todo = asked[number - start:]
        seeds = [derive_seed(cell_seed, "fit", number + i) for i in range(len(todo))]
        outcomes = _run_batch(module, [c for _, c in todo], data, fold, settings, seeds)
        for i, ((trial, _), outcome) in enumerate(zip(todo, outcomes)):
            _tell(study, trial, outcome)
            dists = {k: space.distributions()[k] for k in trial.params}
            yield TrialEvent.of(outcome, cell, number + i, trial.params, dists)
        start = number = start + len(asked)
    yield outer_evaluation(cell, module, data, fold, space, settings, study, cell_seed)


def batch(number: int, size: int, settings: CellSettings) -> tuple[int, int]:
    """The trials ``[start, end)`` of the batch that trial ``number`` belongs to. No batch
    crosses the end of TPE's random start-up trials: the first trial TPE models is asked after
    every start-up trial has finished, as when trials run one at a time, so a small budget
    (``quick``: 4 trials, 3 of them start-up) searches exactly as it would without batches."""
    startup = min(settings.n_startup_trials, settings.trials)
    base, stop = (0, startup) if number < startup else (startup, settings.trials)
    start = number - (number - base) % size
    return start, min(start + size, stop)


def _tell(study: optuna.Study, trial, outcome: TrialOutcome) -> None:
    """Record a finished trial (run now, or stored before a resume) for the sampler."""
    for key, value in {"config": outcome.config, **(outcome.attrs or {})}.items():
        trial.set_user_attr(key, value)
    if outcome.state == "COMPLETE":
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def out_of_time(settings: CellSettings, seconds: float) -> bool:
    """Whether a cell that has spent ``seconds`` on trials (counted across resumes) must stop
    trying configurations and go to its outer evaluation."""
    return settings.seconds is not None and seconds > settings.seconds


def _run_batch(module, configs: list[dict], data, fold, settings, seeds: list[int]
               ) -> list[TrialOutcome]:
    """One trial outcome per configuration. A population's events share its wall time: each
    member is charged its share (``evaluate_batch``), and what no member accounts for (building,
    reading the data) is split evenly, so the members' seconds add up to the batch's."""
    if not hasattr(module, "fit_population"):
        return [_run_trial(module, c, data, fold, settings, s) for c, s in zip(configs, seeds)]
    t0 = time.perf_counter()
    split = {"split_sha256": inner_digest(fold)}
    try:
        results = evaluate_batch(module, configs, data, fold, settings.metric, seeds,
                                 settings.threads)
    except Exception as exc:  # noqa: BLE001 - outside any member: the batch fails, the cell goes on
        results = [Failure(exc)] * len(configs)
    charged = [r[2] if isinstance(r, tuple) else r.seconds for r in results]
    rest = max(0.0, time.perf_counter() - t0 - sum(charged)) / len(configs)
    shared = {"population": len(configs)}
    outcomes = []
    for config, result, seconds in zip(configs, results, charged):
        if isinstance(result, tuple):
            value, attrs, _ = result
            outcomes.append(TrialOutcome("COMPLETE", value, config, seconds + rest, None,
                                         {**attrs, **split, **shared}))
        else:
            outcomes.append(TrialOutcome.failed(config, seconds + rest, _error(result.error),
                                                {**split, **shared, "epochs": result.epochs}))
    return outcomes


def _run_trial(module, config, data, fold, settings, seed) -> TrialOutcome:
    t0 = time.perf_counter()
    split = {"split_sha256": inner_digest(fold)}
    try:
        value, attrs = evaluate(module, config, data, fold, settings.metric, seed, settings.threads)
        return TrialOutcome("COMPLETE", value, config, time.perf_counter() - t0, None,
                            {**attrs, **split})
    except Exception as exc:  # a failed trial counts toward the budget; the cell goes on
        return TrialOutcome.failed(config, time.perf_counter() - t0, _error(exc), split)


def _error(exc: BaseException) -> str:
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=3))
    return f"{type(exc).__name__}: {exc}\n{trace}"


def incumbents(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that were the best so far when they finished, in order (for the budget curves)."""
    sign = 1.0 if study.direction.name == "MAXIMIZE" else -1.0
    out, best = [], -math.inf
    for t in sorted(study.trials, key=lambda t: t.number):
        if t.state == optuna.trial.TrialState.COMPLETE and sign * t.value > best:
            best = sign * t.value
            out.append(t)
    return out


def outer_evaluation(cell, module, data, fold, space, settings, study, cell_seed) -> OuterEvent:
    """Refit the default and every incumbent configuration on the outer training part; test once.

    The last incumbent is the tuned configuration. Earlier incumbents give the budget curve of
    the outer test score of the best-so-far configuration; they are never used for selection.
    Only the tuned configuration's test predictions are kept, for the checks (``checks.in_cell``);
    no array leaves the worker otherwise.
    """
    X = data.views[module.VIEWS[data.modality]]
    tested = [_test_once(module, config, data, fold, number, settings,
                         derive_seed(cell_seed, "outer"))
              for number, config in _outer_configs(study, space)]
    (default, default_pred), later = tested[0], tested[1:]
    inc = incumbents(study)
    if not inc:
        return OuterEvent(cell, default, None, [r for r, _ in later])
    if inc[-1].number == 0:  # the default was never beaten: tuned is (a copy of) the default
        tuned, pred = replace(default), default_pred
    else:
        (tuned, pred), later = later[-1], later[:-1]
    X = X if tuned.error else features(module, tuned.config, data)
    controls, chance, predictions = checks.in_cell(module, tuned, pred, data, fold, X, settings,
                                                   cell_seed)
    return OuterEvent(cell, default, tuned, [r for r, _ in later], controls, chance, predictions)


def _outer_configs(study: optuna.Study, space: SearchSpace) -> list[tuple[int, dict]]:
    """(trial number, configuration) of the default, then of every incumbent after it, in trial
    order; a deep learner's configuration gets the epoch count chosen on the inner validation
    split."""
    trial0 = next((t for t in study.trials if t.number == 0), None)
    runs = [(0, space.default_config(), trial0.user_attrs.get("best_epoch") if trial0 else None)]
    inc = incumbents(study)
    for t in inc[1:] if inc and inc[0].number == 0 else inc:  # trial 0 is the default run
        runs.append((t.number, dict(t.user_attrs.get("config") or {}),
                     t.user_attrs.get("best_epoch")))
    return [(number, {**config, "max_epochs": epochs} if epochs else config)
            for number, config, epochs in runs]


def _test_once(module, config, data, fold, number, settings, seed
               ) -> tuple[OuterResult, np.ndarray | None]:
    """Refit ``config`` on the outer training part and score it once on the outer test fold;
    the result and the test predictions (None when it failed)."""
    t0 = time.perf_counter()
    try:
        X = features(module, config, data)
        model = fit(module, config, data, fold.train, seed, settings.threads)
        fit_seconds = time.perf_counter() - t0
        pred = predict(model, X[fold.test], data.task, data.n_classes)
        return OuterResult(number, config, fit_seconds, score_all(data, fold.test, pred)), pred
    except Exception as exc:
        return OuterResult(number, config, None, {}, f"{type(exc).__name__}: {exc}"), None
