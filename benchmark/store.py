"""The run's store: one Optuna study per cell in one Optuna storage (SQLite in the run folder).

Only finished trials are written, as they arrive: the driver writes whatever one round of
waiting on Ray brought (usually one to a few trials) in one transaction, so a killed driver
leaves a consistent store (at most the round in hand is lost, and it reruns on resume) and a
rerun resumes from it. The outer evaluation of a cell is kept as a study user attribute in the
same storage. Any Optuna storage URL works; optuna-dashboard reads it.

Writing a trial through Optuna's ``Study.add_trial`` costs several milliseconds of driver CPU
(one ORM round trip per attribute), and a SQLite commit an fsync: on a small machine that was
most of the executor's cost per trial. So ``record`` inserts finished trials with SQLAlchemy
Core into Optuna's own tables, row for row what ``add_trial`` writes (tests/test_faults.py checks
this; it falls back to ``add_trial`` if that schema is not there), and a SQLite store on a local
disk runs in write-ahead-log mode while the run lasts (``_use_wal``).

A unique index on (cell, trial number) makes the database itself refuse a second row for a trial,
whoever writes it (``_one_row_per_number``); ``check`` finds a damaged store before a run uses it.
"""
from __future__ import annotations

import json
import logging
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import optuna

from . import run_folder
from .errors import ConfigError, Problem
from .records import Cell

TrialState = optuna.trial.TrialState
log = logging.getLogger(__name__)

# Optuna's table definitions are a private module: used only on the major version they were
# tested with (pyproject pins the range), and even then checked at use, with Optuna's own
# Study.add_trial as the fallback (tests/test_faults.py runs it).
TESTED_OPTUNA = "5"
try:
    from optuna.storages._rdb import models as _models
except ImportError:  # pragma: no cover - a future Optuna
    _models = None
if optuna.__version__.split(".")[0] != TESTED_OPTUNA:  # pragma: no cover
    _models = None


STORE_FILE = run_folder.STORE
UNIQUE_INDEX = "benchmark_one_row_per_trial_number"


def default_url(run_dir: Path) -> str:
    return f"sqlite:///{Path(run_dir).resolve() / STORE_FILE}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, else None."""
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return None
    return Path(url[len("sqlite:///"):])


def check(url: str, recorded: int | None) -> list[Problem]:
    """What would stop a run from using its SQLite store, found without writing to it.

    ``recorded``: the trials the run folder's manifest says are stored (None: no manifest, a
    new run). A store is created before its manifest is first written, and trials are never
    deleted, so a missing or empty file in a folder with a manifest, or fewer trials than the
    manifest records, means the store was lost or replaced: resuming would recompute or mix.
    """
    path = sqlite_file(url)
    if path is None:
        return []
    if not path.exists() or path.stat().st_size == 0:
        if recorded is None:
            return []
        return [_lost(path, "missing" if not path.exists() else "empty (0 bytes)", recorded)]
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as con:
            verdict = [row[0] for row in con.execute("PRAGMA quick_check").fetchall()]
            if verdict != ["ok"]:
                raise sqlite3.DatabaseError("; ".join(verdict[:3]))
            return _check_tables(con, path, recorded)
    except sqlite3.Error as exc:
        return [Problem(str(path), "the run's store must be a readable SQLite database",
                        f"{type(exc).__name__}: {exc}", "restore optuna.db from a copy (with its "
                        "-wal file, if there was one), or start over with a new --out")]


def _check_tables(con: sqlite3.Connection, path: Path, recorded: int | None) -> list[Problem]:
    tables = {row[0] for row in con.execute("select name from sqlite_master where type='table'")}
    if not {"studies", "trials"} <= tables:
        if not tables and recorded is None:
            return []  # an empty database: a new store
        if not tables:
            return [_lost(path, "without any table", recorded)]
        return [Problem(str(path), "the store must be an Optuna storage (tables studies and "
                        "trials)", sorted(tables)[:5], "pass --storage an Optuna storage, or a "
                        "new --out")]
    twice = con.execute(
        "select s.study_name, t.number, count(*) from trials t join studies s using (study_id) "
        "where t.number is not null group by t.study_id, t.number having count(*) > 1").fetchall()
    if twice:
        name, number, _ = twice[0]
        return [Problem(str(path), "the store must hold each trial of a cell once",
                        f"{len(twice)} trial numbers stored twice, e.g. {name} trial {number}",
                        "two drivers wrote this store at once (a version without the run "
                        "folder's lock): start over with a new --out")]
    stored = con.execute("select count(*) from trials").fetchone()[0]
    if recorded is not None and stored < recorded:
        return [_lost(path, f"holding {stored} trials", recorded)]
    return []


def _lost(path: Path, state: str, recorded: int) -> Problem:
    """A store that lost what the folder's manifest says it held."""
    held = f"{recorded} trials" if recorded else "the run's trials"
    return Problem(str(path), f"the run folder's store must hold what its manifest.json records "
                   f"({held})", state, "restore optuna.db from a copy, or start over with a new "
                   "--out (or delete the folder): a run is never recomputed into a store that "
                   "lost its trials")


def _trial_attrs(event: dict) -> dict:
    return {"config": event["config"], "seconds": event["seconds"], "error": event["error"],
            "node_id": event.get("node_id"), "host": event.get("host"), "pid": event.get("pid"),
            **event["attrs"]}


LOCAL_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "tmpfs", "overlay"}


def _local_sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL on a local (Linux) filesystem, else None.

    SQLite's write-ahead log needs shared memory, which network filesystems (NFS, SMB, ...) do
    not provide reliably, so it is used only where the filesystem is known to be local.
    """
    if not url.startswith("sqlite:///") or url.endswith(":memory:"):
        return None
    path = Path(url[len("sqlite:///"):]).resolve()
    try:
        mounts = [line.split()[1:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return None
    best = max((m for m in mounts if path.is_relative_to(m[0])), key=lambda m: len(m[0]),
               default=None)
    return path if best and best[1] in LOCAL_FILESYSTEMS else None


class Store:
    def __init__(self, url: str):
        self.url = url
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        self.storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        self._studies: dict[str, optuna.Study] = {}
        self._bulk = _models is not None
        self._held: dict[int, int] = {}  # study id -> trials stored (for _insert)
        self.repeated = 0  # trials that arrived for a number already stored: a rerun, never kept
        self._wal = _local_sqlite_file(url) is not None
        if self._wal:
            self._use_wal()
        self._one_row_per_number()

    def _one_row_per_number(self) -> None:
        """A unique index on (study, trial number): the database refuses a second row for a
        trial, so two writers can never both store it (the run folder's lock keeps a second
        driver out; this holds for any writer). Skipped on a read-only store (it writes
        nothing)."""
        from sqlalchemy import inspect, text
        from sqlalchemy.exc import OperationalError

        engine = self.storage.engine
        try:
            if UNIQUE_INDEX in {i["name"] for i in inspect(engine).get_indexes("trials")}:
                return
            with engine.begin() as con:
                con.execute(text(f"CREATE UNIQUE INDEX {UNIQUE_INDEX} ON trials "
                                 "(study_id, number)"))
        except OperationalError as exc:
            log.debug("no unique trial-number index (%s)", exc)

    def _use_wal(self) -> None:
        """Write-ahead log, synced at checkpoints rather than at every commit.

        A killed driver loses nothing that was committed (the log is in the operating system's
        hands); a power cut can lose the last commits but never corrupts the store, and what is
        lost simply runs again on resume. A commit then costs a write instead of an fsync, which
        on slow disks is most of the cost of storing a trial.
        """
        from sqlalchemy import event

        @event.listens_for(self.storage.engine, "connect")
        def _pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        self.storage.engine.dispose()  # connections opened from now on get the pragmas

    def close(self) -> None:
        """Back to a single-file database (no -wal/-shm files), so the run folder can be copied
        or opened read-only elsewhere. A store that is never closed (a killed driver) is
        recovered by SQLite the next time it is opened."""
        self.storage.engine.dispose()  # the pooled connections: the switch needs the only one
        if self._wal:
            from sqlalchemy import text
            from sqlalchemy.exc import OperationalError

            try:
                with self.storage.engine.connect() as con:
                    mode = con.execute(text("PRAGMA journal_mode=DELETE")).scalar()
            except OperationalError as exc:
                mode = str(exc)
            if str(mode).lower() != "delete":  # open elsewhere (a reader): nothing is lost
                log.warning("optuna.db stays in write-ahead-log mode (%s): it is still open "
                            "elsewhere; copy it together with optuna.db-wal, or after the other "
                            "program closes it", mode)
            self.storage.engine.dispose()

    def study(self, cell: Cell, direction: str) -> optuna.Study:
        if cell.key not in self._studies:
            study = optuna.create_study(storage=self.storage, study_name=cell.key,
                                        direction=direction, load_if_exists=True)
            if "cell" not in study.user_attrs:
                study.set_user_attr("cell", {"dataset": cell.dataset, "outer_fold": cell.fold,
                                             "learner": cell.learner})
            self._studies[cell.key] = study
        return self._studies[cell.key]

    def history(self, cell: Cell, direction: str) -> list[dict]:
        """Finished trials of the cell, in trial order, as plain dicts for the worker."""
        trials = self.study(cell, direction).get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
        return [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
                 "config": t.user_attrs.get("config", {}),
                 "seconds": t.user_attrs.get("seconds") or 0.0,
                 "attrs": {k: t.user_attrs[k] for k in ("best_epoch",) if k in t.user_attrs}}
                for t in sorted(trials, key=lambda t: t.number)]

    def outer(self, cell: Cell, direction: str) -> dict | None:
        return self.study(cell, direction).user_attrs.get("outer")

    def done(self) -> set[str]:
        """Keys of the cells whose outer evaluation is stored (one query, creates nothing)."""
        return {s.study_name for s in self.storage.get_all_studies() if "outer" in s.user_attrs}

    def counts(self) -> dict[str, int]:
        """Stored trials per cell key, for the cells that have a study (one query)."""
        names = {s._study_id: s.study_name for s in self.storage.get_all_studies()}
        if not names:
            return {}
        if _models is None:  # pragma: no cover - a future Optuna
            return {n: len(optuna.load_study(study_name=n, storage=self.storage).trials)
                    for n in names.values()}
        from sqlalchemy import func, select

        trials = _models.TrialModel.__table__
        with self.storage.engine.connect() as con:
            rows = con.execute(select(trials.c.study_id, func.count())
                               .group_by(trials.c.study_id)).all()
        return {names[sid]: n for sid, n in rows if sid in names}

    # ------------------------------------------------------------------ writing

    def record(self, events: list[dict], direction) -> None:
        """Store a batch of events: its trials in one transaction, then its outer evaluations.

        ``direction`` maps a cell to its study direction. A trial whose number is already stored
        for its cell is skipped, so no (cell, trial) pair is ever stored twice.
        """
        trials = [e for e in events if e["kind"] == "trial"]
        if trials:
            self.record_trials(trials, direction)
        for e in events:
            if e["kind"] != "trial":  # a cell's outer evaluation
                self.record_outer(e, direction(e["cell"]))

    def record_trial(self, event: dict, direction: str) -> None:
        self.record_trials([{"kind": "trial", **event}], lambda cell: direction)

    def record_trials(self, events: list[dict], direction) -> None:
        from sqlalchemy.exc import IntegrityError

        try:
            self._record_trials(events, direction)
        except IntegrityError as exc:  # the unique index: another writer stored these numbers
            raise ConfigError([Problem(
                self.url, "one driver at a time writes a store: a trial number this run was "
                "storing is already there, written by another process", str(exc.orig)[:200],
                "let the other run finish (each run needs its own --out, or --storage)")]) from None

    def _record_trials(self, events: list[dict], direction) -> None:
        studies = {e["cell"].key: self.study(e["cell"], direction(e["cell"])) for e in events}
        if self._bulk:
            try:
                self._insert(events, {k: s._study_id for k, s in studies.items()})
                return
            except Exception as exc:  # schema not as expected: Optuna's own (slower) path
                if not _schema_problem(exc):
                    raise
                log.warning("bulk trial insert unavailable (%s); using Study.add_trial", exc)
                self._bulk = False
        for e in events:
            study = studies[e["cell"].key]
            if e.get("number") is not None and e["number"] < len(study.get_trials(deepcopy=False)):
                self.repeated += 1
                continue  # already stored
            study.add_trial(optuna.trial.create_trial(
                state=TrialState[e["state"]], value=e["value"], params=e["params"],
                distributions=e["distributions"], user_attrs=_trial_attrs(e)))

    def _statements(self) -> dict:
        """Optuna's tables and the statements ``_insert`` runs, built once (SQLAlchemy then
        reuses their compiled form)."""
        if not hasattr(self, "_stmts"):
            from sqlalchemy import bindparam, func, insert, select

            m = _models
            trials = m.TrialModel.__table__
            self._stmts = {
                "count": select(trials.c.study_id, func.count()).where(
                    trials.c.study_id == bindparam("sid")).group_by(trials.c.study_id),
                "trial": insert(trials),
                "trials": insert(trials).returning(trials.c.trial_id, sort_by_parameter_order=True),
                "values": insert(m.TrialValueModel.__table__),
                "params": insert(m.TrialParamModel.__table__),
                "attrs": insert(m.TrialUserAttributeModel.__table__),
            }
        return self._stmts

    def _insert(self, events: list[dict], study_ids: dict[str, int]) -> None:
        """The rows ``Study.add_trial`` would write, for many trials, in one transaction.

        Trial numbers continue from what each study holds, counted once per study and then kept
        here (this driver is the only writer of its run); an event whose number is already
        taken was stored before and is skipped.
        """
        st, to_stored = self._statements(), _models.TrialValueModel.value_to_stored_repr
        held = self._held
        with self.storage.engine.begin() as con:
            for sid in set(study_ids.values()) - held.keys():
                row = con.execute(st["count"], {"sid": sid}).first()
                held[sid] = row[1] if row else 0
            now = datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC, as Optuna
            new, rows_t, numbers, repeated = [], [], dict(held), 0
            for e in events:
                sid = study_ids[e["cell"].key]
                number = numbers[sid]
                if e.get("number") is not None and e["number"] < number:
                    repeated += 1
                    continue
                numbers[sid] = number + 1
                new.append(e)
                rows_t.append({"number": number, "study_id": sid, "state": TrialState[e["state"]],
                               "datetime_start": now, "datetime_complete": now})
            if not new:
                self.repeated += repeated
                return
            if len(rows_t) > 1 and con.dialect.insert_executemany_returning_sort_by_parameter_order:
                ids = con.execute(st["trials"], rows_t).scalars().all()
            else:  # one statement per trial (e.g. MySQL)
                ids = [con.execute(st["trial"], r).inserted_primary_key[0] for r in rows_t]
            rows_p, rows_v, rows_a = [], [], []
            for tid, e in zip(ids, new):
                if e["state"] == "COMPLETE" and e["value"] is not None:
                    value, kind = to_stored(e["value"])
                    rows_v.append({"trial_id": tid, "objective": 0, "value": value,
                                   "value_type": kind})
                for name, value in e["params"].items():
                    dist = e["distributions"][name]
                    rows_p.append({"trial_id": tid, "param_name": name,
                                   "param_value": dist.to_internal_repr(value),
                                   "distribution_json": optuna.distributions.distribution_to_json(dist)})
                for key, value in _trial_attrs(e).items():
                    rows_a.append({"trial_id": tid, "key": key, "value_json": json.dumps(value)})
            for key, rows in (("values", rows_v), ("params", rows_p), ("attrs", rows_a)):
                if rows:
                    con.execute(st[key], rows)
        held.update(numbers)  # only once the transaction is committed
        self.repeated += repeated

    def record_outer(self, event: dict, direction: str) -> None:
        extra = {k: event[k] for k in ("seconds", "cpu_seconds", "threads") if k in event}
        self.study(event["cell"], direction).set_user_attr(
            "outer", {**event["results"], "node_id": event.get("node_id"), **extra})

    # ------------------------------------------------------------------ reading

    def all_cells(self) -> list[optuna.Study]:
        """Every cell study in the storage, each loaded once per Store.

        The study objects are kept (with the ones the run wrote through), so their trials are
        read from the database once: the exports call this several times.
        """
        names = sorted(optuna.get_all_study_names(self.storage))
        for name in names:
            if name not in self._studies:
                self._studies[name] = optuna.load_study(study_name=name, storage=self.storage)
        return [self._studies[n] for n in names]


def _schema_problem(exc: Exception) -> bool:
    """Errors that mean Optuna's tables are not what ``_insert`` expects (never data errors)."""
    from sqlalchemy.exc import NoSuchColumnError

    return isinstance(exc, (AttributeError, NoSuchColumnError))
