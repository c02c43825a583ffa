"""Run a study: validate everything, plan splits, stream cells through Ray into the store.

``prepare`` does all the checking (and data loading) before any compute is spent and raises one
ConfigError with every problem. ``execute`` resumes from whatever the store already holds: a cell
whose outer evaluation is stored is done; any other cell continues from its stored trials. A run
folder belongs to one driver at a time and to the inputs it was made from: ``check_folder``
refuses anything else before a file in it is written.
"""
from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import data as data_layer
from . import learners, manifest, metrics, run_folder
from .data.dataset import Dataset
from .data.manifest import resolve as resolve_spec
from .errors import ConfigError, Problem, raise_if
from .execution import (Job, Session, check_address, clean_leftovers, cluster_address,
                        keep_session)
from .records import Cell
from .search import CellSettings, cell_space, has_hyperparameters, out_of_time
from .spaces import SearchSpace, load_space
from .splits import SplitPlan, make_plan
from .store import STORE_FILE, Store, default_url, sqlite_file
from .store import check as check_store
from .study import StudySpec, check_names, dataset_ref, read_study, space_file


@dataclass
class Plan:
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
        """The dataset's content hash (``manifest.dataset_digest``), computed once."""
        if dataset not in self._digests:
            self._digests[dataset] = manifest.dataset_digest(self.datasets[dataset])
        return self._digests[dataset]

    def cells(self) -> list[Cell]:
        n = self.study.splits.outer_folds * self.study.splits.repeats  # (repeat, fold) flattened
        return [Cell(d, k, l) for d, l in self.pairs for k in range(n)]

    def trials(self, dataset: str, learner: str) -> int:
        """The pair's trials per cell: the budget, or 1 (trial 0, the library default) for a
        learner with nothing to tune on this dataset (``search.has_hyperparameters``)."""
        space = cell_space(self.spaces[learner], learners.get(learner), self.datasets[dataset])
        return self.study.budget.trials if has_hyperparameters(space) else 1

    def settings(self, dataset: str, threads: int, learner: str | None = None) -> CellSettings:
        """A cell's settings; ``learner`` sets its trial count (default: the study's budget)."""
        s = self.study
        return CellSettings(task=self.datasets[dataset].task, metric=self.metrics[dataset],
                            trials=self.trials(dataset, learner) if learner else s.budget.trials, seconds=s.budget.seconds, seed=s.seed,
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


def prepare(study_ref: str, trials: int | None = None, seed: int | None = None) -> Plan:
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
    return Plan(study, datasets, spaces, chosen, plans, pairs, skipped)


def _load_spec(study: StudySpec, i: int, name: str):
    """A dataset entry's manifest; a YAML that is not there is named by the study key."""
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


# ---------------------------------------------------------------- the run folder

def check_folder(plan: Plan, run_dir: Path, storage: str | None = None,
                 address: str | None = None) -> dict | None:
    """Every reason the run folder would refuse this run, found without writing anything (not
    even the folder): another driver in it, an unreachable cluster, a read-only folder, another
    study, other data or split plans, a damaged or lost store. Raises one ConfigError with them
    all; returns the folder's previous manifest (None for a new folder)."""
    run_dir = Path(run_dir)
    problems = check_address(address)
    who = manifest.holder(run_dir)
    if who is not None:  # the rest may be mid-change under the other driver
        raise ConfigError(problems + [manifest.held(run_dir / manifest.LOCK, who)])
    previous = manifest.read(run_dir)
    raise_if(problems + _folder_problems(plan, run_dir, storage or default_url(run_dir), previous))
    return previous


def _folder_problems(plan: Plan, run_dir: Path, url: str, previous: dict | None) -> list[Problem]:
    files = [run_dir / manifest.MANIFEST, run_dir / manifest.LOCK]
    if (db := sqlite_file(url)) is not None:
        files += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    problems = manifest.writable_problems(run_dir, files)
    if previous is None:
        return problems + check_store(url, None)
    study = _study_problems(plan, run_dir, previous)
    inputs = [] if study else _input_problems(plan, run_dir, previous)
    where = _store_problems(run_dir, url, previous)
    return problems + study + inputs + (where or check_store(url, _recorded(previous)))


def _study_problems(plan: Plan, run_dir: Path, previous: dict) -> list[Problem]:
    """Another study's folder (other datasets, learners, seed, metric, budget or splits)."""
    config = plan.study.model_dump()
    if previous.get("config_hash") == manifest.config_hash(config):
        return []
    changed = _changes(previous.get("config") or {}, config)
    return [Problem(str(run_dir / manifest.MANIFEST), "a run folder resumes only the study that "
                    "made it", "; ".join(changed[:8]) or "a different study", "rerun with the "
                    "same study, trials and seed, or pass a new --out for the new settings")]


def _changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every setting that differs (nested keys dotted)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def _input_problems(plan: Plan, run_dir: Path, previous: dict) -> list[Problem]:
    """Data or split plans other than those the folder was made from: resuming would mix
    trials scored on two datasets (or index past the end of a shorter one)."""
    where, problems = str(run_dir / manifest.MANIFEST), []
    for name, ds in plan.datasets.items():
        old = (previous.get("datasets") or {}).get(name) or {}
        data = _data_change(old, plan.content_sha256(name), ds.sha256)
        if data:
            problems.append(Problem(f"{where}: datasets.{name}", f"a run folder resumes only the "
                                    f"data it was made from, and dataset {name} is not that data",
                                    data, "restore the data this run was made from, or pass a new "
                                    "--out to start a new run on the new data"))
            continue
        old_plan = old.get("split_sha256") or _saved_plan_hash(run_dir, name)
        if old_plan and old_plan != plan.splits[name].digest:
            problems.append(Problem(f"{where}: datasets.{name}.split_sha256", "a run folder "
                                    "resumes only the split plans it was made with, and the same "
                                    f"data and settings now give dataset {name} another plan",
                                    f"split plan sha256 was {old_plan}, now "
                                    f"{plan.splits[name].digest}", "run with the package versions "
                                    "recorded in manifest.json (scikit-learn makes the folds), "
                                    "or pass a new --out"))
    return problems


def _data_change(old: dict, content: str, source: str | None) -> str | None:
    """``sha256 was X, now Y`` when the data differs from the recorded data, else None (a
    manifest from before content hashes were recorded is compared on the source checksum)."""
    if old.get("content_sha256"):
        return None if old["content_sha256"] == content else \
            f"content sha256 was {old['content_sha256']}, now {content}"
    if old.get("sha256") and source and old["sha256"] != source:
        return f"source sha256 was {old['sha256']}, now {source}"
    return None


def _saved_plan_hash(run_dir: Path, name: str) -> str | None:
    try:
        return (run_folder.saved_split(run_dir, name) or {}).get("sha256")
    except (OSError, ValueError, AttributeError):
        return None


def _store_problems(run_dir: Path, url: str, previous: dict) -> list[Problem]:
    """A store other than the one the folder's trials are in (a moved folder keeps its own)."""
    old = previous.get("storage")
    moved = old and sqlite_file(old) is not None and sqlite_file(old).name == STORE_FILE \
        and url == default_url(run_dir)
    if not old or old == url or moved:
        return []
    return [Problem(str(run_dir / manifest.MANIFEST), "a run folder resumes from the store its "
                    f"trials are in ({old})", url, f"pass --storage {old}, or a new --out")]


def _recorded(previous: dict) -> int:
    """Trials the manifest says are stored (older manifests: 1 for a finished run)."""
    if isinstance(previous.get("trials_stored"), int):
        return previous["trials_stored"]
    return 1 if previous.get("status") == "complete" else 0


def _manifest(plan: Plan, previous: dict | None, store_url: str, stored: int) -> dict:
    config = plan.study.model_dump()
    return {
        "study": plan.study.name, "config": config, "config_hash": manifest.config_hash(config),
        "seed": plan.study.seed, "storage": store_url,
        "started": (previous or {}).get("started", manifest.now()), "status": "running",
        "trials_stored": stored,
        # deep trials trained together (final once Ray is up and knows the GPUs)
        "population": (previous or {}).get("population")
        or plan.study.resources.population_for(plan.gpus),
        "versions": manifest.versions(), "git_commit": manifest.git_commit(),
        "hardware": manifest.hardware(),
        "datasets": {n: {**d.profile(), "content_sha256": plan.content_sha256(n),
                         "metric": plan.metrics[n], "split_sha256": plan.splits[n].digest}
                     for n, d in plan.datasets.items()},
        "pairs": [list(p) for p in plan.pairs], "skipped": [list(s) for s in plan.skipped],
        # pairs whose learner has nothing to tune there: trial 0 only, "no hyper-parameters"
        "no_hyperparameters": [list(p) for p in plan.pairs if plan.trials(*p) == 1
                               and plan.study.budget.trials > 1],
        "seeds": "derived as sha256(study seed, dataset, fold, learner, trial): see benchmark.seeding",
    }


def _save_splits(plan: Plan, run_dir: Path) -> None:
    """Each dataset's split plan, written where it is missing or not this plan."""
    (run_dir / run_folder.SPLITS).mkdir(parents=True, exist_ok=True)
    for name, sp in plan.splits.items():
        if _saved_plan_hash(run_dir, name) != sp.digest:
            sp.save(run_folder.split_file(run_dir, name))


def _open_store(url: str) -> Store:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return Store(url)
    except SQLAlchemyError as exc:  # e.g. a database server that is not there
        raise ConfigError([Problem("--storage", "the store must be an Optuna storage this "
                                   "machine can open", f"{url}: {str(exc).splitlines()[0][:200]}",
                                   "check the URL and that the database is running")]) from None


def _clean_after(previous: dict) -> None:
    """What the folder's last driver left on this machine if it was killed: its embedded Ray's
    processes and temp folder (``execution.clean_leftovers``; nothing else is touched)."""
    if previous.get("ended") or previous.get("host") != socket.gethostname():
        return
    clean_leftovers(previous.get("ray_temp_dir"), keep=keep_session())


# ---------------------------------------------------------------- execution

def _job(plan: Plan, store: Store, cell: Cell, refs: dict, threads: int, attempt: int = 0) -> Job:
    history = store.history(cell, plan.direction(cell.dataset))
    args = (cell, refs[cell.dataset], plan.splits[cell.dataset].folds[cell.fold],
            plan.spaces[cell.learner], plan.settings(cell.dataset, threads, cell.learner), history)
    return Job(cell.key, args, deep=learners.get(cell.learner).FAMILY == "deep", attempt=attempt,
               at=len(history))


def execute(plan: Plan, run_dir: Path, address: str | None = None, storage: str | None = None,
            num_cpus: int | None = None, on_event: Callable[[dict], None] | None = None) -> dict:
    """Run (or resume) every unfinished cell; returns the final manifest.

    Nothing in ``run_dir`` is written until the run is known to be valid (``check_folder``),
    and then only by the driver holding the folder's lock. ``on_event`` sees the progress:
    ``start`` (trials to run per unfinished cell), each ``trial`` and ``outer`` (a cell done)
    event, ``phase`` changes (``ray``, ``export``, ``checks``, ``done``) and ``check`` (the
    checks' refits done, of all).
    """
    run_dir, emit = Path(run_dir), on_event or (lambda event: None)
    store_url = storage or default_url(run_dir)
    check_folder(plan, run_dir, storage, address)
    with manifest.FolderLock(run_dir) as lock:
        previous = manifest.read(run_dir)  # again: it may have changed before the lock was ours
        raise_if(_folder_problems(plan, run_dir, store_url, previous))
        _clean_after(lock.previous)
        lock.note(**manifest.driver_facts())
        store = _open_store(store_url)  # before the manifest: a manifest implies a store
        try:
            info = _manifest(plan, previous, store_url, sum(store.counts().values()))
            _save_splits(plan, run_dir)
            manifest.write(run_dir / manifest.MANIFEST, info)
            _run(plan, run_dir, store, info, address, num_cpus, lock, emit)
            # Trials that arrived again for a number already stored (never kept): 0 unless a
            # stored trial was run a second time, which resuming must never do.
            info.update(status="complete", finished=manifest.now(),
                        trials_stored=sum(store.counts().values()),
                        trials_repeated=store.repeated)
        finally:
            store.close()
        manifest.write(run_dir / manifest.MANIFEST, info)
        lock.note(ended=manifest.now())
    return info


def _run(plan: Plan, run_dir: Path, store: Store, info: dict, address: str | None,
         num_cpus: int | None, lock: manifest.FolderLock, emit: Callable[[dict], None]) -> None:
    """The cells through Ray into the store, then the export and the checks' second phase."""
    done = store.done()
    todo = [c for c in plan.cells() if c.key not in done]
    stored = store.counts()
    emit({"kind": "start", "cells": {c.key: max(0, plan.trials(c.dataset, c.learner)
                                                - stored.get(c.key, 0)) for c in todo},
          "cells_total": len(plan.cells())})
    with _LazySession(plan, address, num_cpus, lock, emit) as ray_session:
        if todo:
            session, refs = ray_session.get()
            info["ray"] = {"embedded": session.embedded, "cpus": session.total_cpus(),
                           "gpus": session.has_gpus()}
            plan.gpus = session.has_gpus()
            info["population"] = plan.study.resources.population_for(plan.gpus)
            _stream(plan, store, todo, session, refs, emit)
        from . import results

        emit({"kind": "phase", "name": "export"})
        results.export(store, run_dir, plan.datasets)
        emit({"kind": "phase", "name": "checks"})
        _run_checks(plan, run_dir, store, ray_session.run_refits)
    emit({"kind": "phase", "name": "done"})


def _stream(plan: Plan, store: Store, todo: list[Cell], session: Session, refs: dict,
            emit: Callable[[dict], None]) -> None:
    """Every unfinished cell as a Ray task, each finished trial stored as it arrives."""
    res = plan.study.resources
    todo = sorted(todo, key=lambda c: (-2.0 if learners.get(c.learner).FAMILY == "deep" else -1.0,
                                       -plan.datasets[c.dataset].X.size))
    # Built one by one as they are submitted (each reads its cell's stored trials), so the
    # first cells run while the store is still being read for the others.
    jobs = (_job(plan, store, c, refs, res.cpus_per_trial) for c in todo)

    def on_crash(job: Job, exc: Exception) -> Job | None:
        return _after_crash(plan, store, job, exc, refs, emit)

    def direction(cell: Cell) -> str:
        return plan.direction(cell.dataset)

    # Each batch (what finished since the last one) is stored in one transaction before
    # the next is awaited, and before any crash is handled, so a retry resumes from it.
    for batch in session.stream(jobs, on_crash):
        store.record(batch, direction)
        for event in batch:
            emit(event)


class _LazySession:
    """The run's Ray session, started the first time something needs it (a resumed run whose
    cells and checks are all done never starts Ray), with the datasets put once."""

    def __init__(self, plan: Plan, address: str | None, num_cpus: int | None,
                 lock: manifest.FolderLock, emit: Callable[[dict], None]):
        self.plan, self.address, self.num_cpus = plan, address, num_cpus
        self.lock, self.emit = lock, emit
        self._stack = ExitStack()
        self._open: tuple[Session, dict] | None = None

    def __enter__(self) -> "_LazySession":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def get(self) -> tuple[Session, dict]:
        if self._open is None:
            res = self.plan.study.resources
            self.emit({"kind": "phase", "name": "ray", "address": cluster_address(self.address)})
            # The embedded Ray's folder is recorded before Ray starts, so that if this driver
            # is killed the next one finds what it left (``_clean_after``).
            session = self._stack.enter_context(Session(
                self.address, self.num_cpus, res.cpus_per_trial, res.gpus_per_deep_trial,
                on_temp_dir=lambda folder: self.lock.note(ray_temp_dir=folder)))
            self._open = session, {n: session.put(d) for n, d in self.plan.datasets.items()}
        return self._open

    def run_refits(self, jobs: list) -> list[dict]:
        """The checks' refit jobs as Ray tasks; each dataset travels once, through the object
        store (never through a file: sensitive data). Deep and large jobs go first."""
        from dataclasses import replace

        from .checks import refit

        if not jobs:
            return []
        session, refs = self.get()
        order = sorted(range(len(jobs)),
                       key=lambda i: (jobs[i].role != "deep", -jobs[i].data.X.size))
        calls = [((replace(jobs[i], data=None), refs[jobs[i].dataset]), jobs[i].role == "deep")
                 for i in order]
        self.emit({"kind": "check", "done": 0, "total": len(calls)})
        out = session.map(refit.run_on, calls, self.plan.study.resources.retries,
                          lambda k, exc: refit.lost(jobs[order[k]], exc),
                          lambda n: self.emit({"kind": "check", "done": n, "total": len(calls)}))
        results = [None] * len(jobs)
        for k, i in enumerate(order):
            results[i] = out[k]
        return results


def _run_checks(plan: Plan, run_dir: Path, store: Store, run_jobs=None) -> None:
    """The checks' second phase (benchmark.checks): needs every cell's scores, writes checks.json."""
    from . import checks

    checks.run_checks(plan, run_dir, store, run_jobs)


def _after_crash(plan: Plan, store: Store, job: Job, exc: Exception, refs: dict,
                 emit: Callable[[dict], None]) -> Job | None:
    """A cell's task failed outside any trial: its worker or node died, or the code around the
    trials raised. Resubmit the cell from the store, so finished trials never run again and the
    trial in flight runs again with the same seed. A trial lost more than ``resources.retries``
    times is stored as failed with the cause (it counts toward the budget) and the cell goes on;
    an outer evaluation lost that often is stored as failed and the cell ends.
    """
    cell, settings = job.args[0], job.args[4]
    direction = plan.direction(cell.dataset)
    if store.outer(cell, direction) is not None:  # it died after its last event: nothing lost
        return None
    history = store.history(cell, direction)
    number = len(history)  # the trial in flight (or the outer evaluation)
    outer_stage = number >= settings.trials or out_of_time(
        settings, sum(h["seconds"] for h in history))
    lost = job.attempt + 1 if number == job.at else 1  # the count restarts once a trial got through
    if lost <= plan.study.resources.retries:
        return _job(plan, store, cell, refs, settings.threads, lost)
    cause = f"the task running it failed {lost} times: {type(exc).__name__}: {str(exc)[:500]}"
    if outer_stage:  # the outer evaluation itself kept dying
        outer = {"kind": "outer", "cell": cell, "results": {
            c: {"trial": None, "config": {}, "fit_seconds": None, "scores": {}, "error": cause}
            for c in ("default", "tuned")}}
        store.record_outer(outer, direction)
        emit(outer)
        return None
    trial = {"kind": "trial", "cell": cell, "number": number, "state": "FAIL", "value": None,
             "params": {}, "distributions": {}, "config": {}, "seconds": 0.0, "error": cause,
             "attrs": {}}
    store.record_trial(trial, direction)
    emit(trial)
    return _job(plan, store, cell, refs, settings.threads, 0)
