"""The run's store: one Optuna study per cell in one Optuna storage (SQLite in the run folder),
and the cells' outer evaluations in tables of the store's own in the same database.

This is the only module that knows how Optuna stores things: it takes the records the cells
yield (``records.TrialEvent``, ``records.OuterEvent``) and gives records back
(``Store.cells``, ``Store.history``, ``Store.outer_evaluations``); no other module reads a
stored study's attributes or Optuna's tables (``search`` samples with an in-memory study of its
own, inside the worker).

Only finished trials are written, as they arrive: the driver writes whatever one round of
waiting on Ray brought (usually one to a few trials) in one transaction, so a killed driver
leaves a consistent store (at most the round in hand is lost, and it reruns on resume) and a
rerun resumes from it. Any Optuna storage URL works; optuna-dashboard reads the trials.

A cell's outer evaluation is written in one transaction into four tables (SQLAlchemy Core,
created by the store; a row's ``study_name`` is its cell's Optuna study name, ``Cell.key``):

- ``benchmark_outer_cells``: one row per cell whose outer evaluation is stored (``done``): where
  it ran (node_id, host, pid), its compute (seconds, cpu_seconds), the thread pools the learner
  saw (threads, JSON) and the chance level of each metric on its test fold (chance, JSON);
- ``benchmark_outer``: one row per configuration refit and tested once (role ``default``,
  ``incumbent`` for the budget curves, ``tuned``): trial, config (JSON), fit_seconds, scores
  (JSON: metric -> value), error;
- ``benchmark_controls``: one row per shuffled-label refit of the tuned configuration and
  metric (seed, metric, value, error, seconds; a refit that failed has one row, metric NULL);
- ``benchmark_predictions``: the tuned configuration's test predictions, one row per example and
  output (row, output, value); never any for a sensitive dataset (the worker sends none).

Stores written before these tables kept the outer evaluation as a study user attribute
(``outer``): such a store is still read (``_legacy_outer``), never written that way.

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
import math
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import optuna

from . import run_folder
from .errors import ConfigError, Problem
from .records import (Cell, Control, OuterEvent, OuterResult, Predictions, StoredCell,
                      StoredTrial, TrialEvent, Where)

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


def _outer_tables():
    """The store's own tables for the cells' outer evaluations (see the module's docstring)."""
    from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text

    meta, name = MetaData(), lambda: Column("study_name", String(512), nullable=False, index=True)
    real = lambda n: Column(n, Float(precision=53))  # noqa: E731 - a double everywhere (MySQL too)
    cells = Table("benchmark_outer_cells", meta,
                  Column("study_name", String(512), primary_key=True),
                  Column("node_id", Text), Column("host", Text), Column("pid", Integer),
                  real("seconds"), real("cpu_seconds"), Column("threads", Text),
                  Column("chance", Text))
    outer = Table("benchmark_outer", meta, Column("id", Integer, primary_key=True), name(),
                  Column("role", String(16), nullable=False), Column("trial", Integer),
                  Column("config", Text, nullable=False), real("fit_seconds"),
                  Column("scores", Text, nullable=False), Column("error", Text))
    controls = Table("benchmark_controls", meta, Column("id", Integer, primary_key=True), name(),
                     Column("seed", Integer, nullable=False), Column("metric", String(64)),
                     real("value"), Column("error", Text), real("seconds"))
    predictions = Table("benchmark_predictions", meta, Column("id", Integer, primary_key=True),
                        name(), Column("row", Integer, nullable=False),
                        Column("output", Integer, nullable=False), real("value"))
    return meta, {"cells": cells, "outer": outer, "controls": controls,
                  "predictions": predictions}


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


def _trial_attrs(event: TrialEvent) -> dict:
    """The trial's user attributes in Optuna's storage."""
    where = event.where
    return {"config": event.config, "seconds": event.seconds, "error": event.error,
            "node_id": where.node_id, "host": where.host, "pid": where.pid, **event.attrs}


def _stored_trial(t: optuna.trial.FrozenTrial) -> StoredTrial:
    """A trial read back from Optuna's storage: ``_trial_attrs`` undone."""
    attrs = dict(t.user_attrs)
    config, seconds = attrs.pop("config", {}), attrs.pop("seconds", None)
    error = attrs.pop("error", None)
    where = Where(attrs.pop("node_id", None), attrs.pop("host", None), attrs.pop("pid", None))
    return StoredTrial(t.state.name, t.value, config, seconds, error, attrs, number=t.number,
                       params=dict(t.params), where=where)


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
        self._meta, self._tables = _outer_tables()
        self._outer_tables_exist = self._create_outer_tables()

    def _create_outer_tables(self) -> bool:
        """The store's own tables (created once; a read-only store without them reads as an
        older store: outer evaluations from study attributes only). Whether they exist."""
        from sqlalchemy import inspect
        from sqlalchemy.exc import OperationalError

        try:
            self._meta.create_all(self.storage.engine, checkfirst=True)
            return True
        except OperationalError as exc:
            log.debug("the outer-evaluation tables cannot be created (%s)", exc)
            names = set(inspect(self.storage.engine).get_table_names())
            return {t.name for t in self._tables.values()} <= names

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

    def history(self, cell: Cell, direction: str) -> list[StoredTrial]:
        """Finished trials of the cell, in trial order, for its worker to resume from, each with
        every attribute it was stored with (the worker replays them into its sampler's study)."""
        trials = self.study(cell, direction).get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
        return [_stored_trial(t) for t in sorted(trials, key=lambda t: t.number)]

    def has_outer(self, cell: Cell) -> bool:
        """Whether the cell's outer evaluation is stored (the cell is done)."""
        return cell.key in self.done()

    def done(self) -> set[str]:
        """Keys of the cells whose outer evaluation is stored (creates nothing)."""
        done = set()
        if self._outer_tables_exist:
            from sqlalchemy import select

            with self.storage.engine.connect() as con:
                done = set(con.execute(select(self._tables["cells"].c.study_name)).scalars())
        return done | {s.study_name for s in self.storage.get_all_studies()
                       if "outer" in s.user_attrs}  # an older store's

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

    def record(self, events: list[TrialEvent | OuterEvent], direction) -> None:
        """Store a batch of events: its trials in one transaction, then its outer evaluations.

        ``direction`` maps a cell to its study direction. A trial whose number is already stored
        for its cell is skipped, so no (cell, trial) pair is ever stored twice.
        """
        trials = [e for e in events if isinstance(e, TrialEvent)]
        if trials:
            self.record_trials(trials, direction)
        for e in events:
            if isinstance(e, OuterEvent):
                self.record_outer(e, direction(e.cell))

    def record_trial(self, event: TrialEvent, direction: str) -> None:
        self.record_trials([event], lambda cell: direction)

    def record_trials(self, events: list[TrialEvent], direction) -> None:
        from sqlalchemy.exc import IntegrityError

        try:
            self._record_trials(events, direction)
        except IntegrityError as exc:  # the unique index: another writer stored these numbers
            raise _second_writer(self.url, "a trial number", exc) from None

    def _record_trials(self, events: list[TrialEvent], direction) -> None:
        studies = {e.cell.key: self.study(e.cell, direction(e.cell)) for e in events}
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
            study = studies[e.cell.key]
            if e.number is not None and e.number < len(study.get_trials(deepcopy=False)):
                self.repeated += 1
                continue  # already stored
            study.add_trial(optuna.trial.create_trial(
                state=TrialState[e.state], value=e.value, params=e.params,
                distributions=e.distributions, user_attrs=_trial_attrs(e)))

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

    def _insert(self, events: list[TrialEvent], study_ids: dict[str, int]) -> None:
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
                sid = study_ids[e.cell.key]
                number = numbers[sid]
                if e.number is not None and e.number < number:
                    repeated += 1
                    continue
                numbers[sid] = number + 1
                new.append(e)
                rows_t.append({"number": number, "study_id": sid, "state": TrialState[e.state],
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
                if e.state == "COMPLETE" and e.value is not None:
                    value, kind = to_stored(e.value)
                    rows_v.append({"trial_id": tid, "objective": 0, "value": value,
                                   "value_type": kind})
                for name, value in e.params.items():
                    dist = e.distributions[name]
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

    def record_outer(self, event: OuterEvent, direction: str) -> None:
        """Store a cell's outer evaluation, its controls and its predictions in one transaction
        (a crash leaves all of it or none, and ``done`` counts the cell only once all of it is
        there). A cell whose outer evaluation is already stored keeps it."""
        from sqlalchemy import insert, select
        from sqlalchemy.exc import IntegrityError

        self.study(event.cell, direction)  # the cell's study (``cells`` lists the stored ones)
        t, name = self._tables, event.cell.key
        try:
            with self.storage.engine.begin() as con:
                if con.execute(select(t["cells"].c.study_name)
                               .where(t["cells"].c.study_name == name)).first():
                    log.warning("%s: its outer evaluation is already stored; kept", name)
                    return
                for table, rows in _outer_rows(event).items():
                    if rows:
                        con.execute(insert(t[table]), rows)
        except IntegrityError as exc:  # another writer stored this cell meanwhile
            raise _second_writer(self.url, "a cell's outer evaluation", exc) from None

    # ------------------------------------------------------------------ reading

    def outer_evaluations(self, predictions: bool = False) -> list[OuterEvent]:
        """Every stored outer evaluation, in cell key order (without the per-example
        predictions, the store's largest table, unless asked)."""
        return [c.outer for c in self.cells(trials=False, predictions=predictions)
                if c.outer is not None]

    def cells(self, trials: bool = True, predictions: bool = True) -> list[StoredCell]:
        """Every cell in the store, in key order: its trials in trial order (left out, an empty
        list, with ``trials=False``) and its outer evaluation once it is stored (its
        ``predictions`` None with ``predictions=False``)."""
        outer = self._read_outer(predictions)
        out = []
        for study in sorted(self.storage.get_all_studies(), key=lambda s: s.study_name):
            cell = _cell_of(study)
            if cell is None:
                continue
            found = [] if not trials else sorted(
                (_stored_trial(t) for t in self.storage.get_all_trials(
                    _study_id(self.storage, study), deepcopy=False)), key=lambda t: t.number)
            event = (outer.get(study.study_name)
                     or _legacy_outer(cell, study.user_attrs.get("outer")))
            out.append(StoredCell(cell, found, event))
        return out

    def _read_outer(self, predictions: bool = True) -> dict[str, OuterEvent]:
        """The outer evaluations in the store's own tables, by study name (``_outer_rows``
        undone)."""
        if not self._outer_tables_exist:
            return {}
        from sqlalchemy import select

        t = {k: v for k, v in self._tables.items() if predictions or k != "predictions"}
        with self.storage.engine.connect() as con:
            rows = {k: con.execute(select(table).order_by(*(
                [table.c.id] if "id" in table.c else [table.c.study_name]))).mappings().all()
                for k, table in t.items()}
        rows.setdefault("predictions", [])
        results: dict[str, dict] = {}
        for r in rows["outer"]:
            res = OuterResult(r["trial"], json.loads(r["config"]), r["fit_seconds"],
                              json.loads(r["scores"]), r["error"])
            mine = results.setdefault(r["study_name"], {"incumbent": []})
            if r["role"] == "incumbent":
                mine["incumbent"].append(res)
            else:
                mine[r["role"]] = res
        controls: dict[str, dict[int, Control]] = {}
        for r in rows["controls"]:
            mine = controls.setdefault(r["study_name"], {})
            c = mine.setdefault(r["seed"], Control(r["seed"], {}, r["error"], r["seconds"] or 0.0))
            if r["metric"] is not None:
                c.scores[r["metric"]] = _real(r["value"])
        predictions: dict[str, Predictions] = {}
        for r in rows["predictions"]:
            p = predictions.setdefault(r["study_name"], Predictions([], []))
            if not p.rows or p.rows[-1] != r["row"]:
                p.rows.append(r["row"])
                p.values.append([])
            p.values[-1].append(_real(r["value"]))
        out = {}
        for r in rows["cells"]:
            name, cell = r["study_name"], _cell_from_key(r["study_name"])
            res = results.get(name, {"incumbent": []})
            out[name] = OuterEvent(
                cell, res.get("default") or OuterResult.lost("not stored"), res.get("tuned"),
                res["incumbent"], list(controls.get(name, {}).values()),
                json.loads(r["chance"]) if r["chance"] else {}, predictions.get(name),
                Where(r["node_id"], r["host"], r["pid"]), r["seconds"], r["cpu_seconds"],
                json.loads(r["threads"]) if r["threads"] else None)
        return out


def _outer_rows(event: OuterEvent) -> dict[str, list[dict]]:
    """The rows of each of the store's own tables for one outer evaluation."""
    name, where = event.cell.key, event.where
    cells = [{"study_name": name, "node_id": where.node_id, "host": where.host, "pid": where.pid,
              "seconds": _double(event.seconds), "cpu_seconds": _double(event.cpu_seconds),
              "threads": None if event.threads is None else json.dumps(event.threads),
              "chance": json.dumps(event.chance)}]
    tested = [("default", event.default), *(("incumbent", r) for r in event.incumbents),
              *([("tuned", event.tuned)] if event.tuned is not None else [])]
    outer = [{"study_name": name, "role": role, "trial": r.trial, "config": json.dumps(r.config),
              "fit_seconds": _double(r.fit_seconds), "scores": json.dumps(r.scores),
              "error": r.error}
             for role, r in tested]
    controls = []
    for c in event.controls:
        base = {"study_name": name, "seed": c.seed, "error": c.error,
                "seconds": _double(c.seconds)}
        controls += ([{**base, "metric": m, "value": _double(v)} for m, v in c.scores.items()]
                     or [{**base, "metric": None, "value": None}])
    p = event.predictions
    predictions = [] if p is None else [
        {"study_name": name, "row": int(row), "output": k, "value": _double(v)}
        for row, values in zip(p.rows, p.values) for k, v in enumerate(values)]
    return {"cells": cells, "outer": outer, "controls": controls, "predictions": predictions}


def _double(value) -> float | None:
    """A number for a double column: NULL when missing or not finite (MySQL refuses NaN and
    infinities; SQLite would store NaN as NULL anyway), read back as NaN by ``_real``."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _real(value) -> float:
    """A stored double (NULL: missing or not finite)."""
    return float("nan") if value is None else float(value)


def _cell_of(study) -> Cell | None:
    """The cell of a study the run made (its ``cell`` attribute), else None."""
    cell = study.user_attrs.get("cell")
    if not isinstance(cell, dict):
        return None
    return Cell(cell["dataset"], int(cell["outer_fold"]), cell["learner"])


def _cell_from_key(key: str) -> Cell:
    """The cell of a key (``Cell.key``): ``dataset/fold<N>/learner``."""
    dataset, fold, learner = key.rsplit("/", 2)
    return Cell(dataset, int(fold[len("fold"):]), learner)


def _study_id(storage, study) -> int:
    """A listed study's id (Optuna's FrozenStudy keeps it privately; asked by name otherwise)."""
    sid = getattr(study, "_study_id", None)
    return sid if isinstance(sid, int) else storage.get_study_id_from_name(study.study_name)


def _legacy_outer(cell: Cell, outer) -> OuterEvent | None:
    """An outer evaluation stored by an older version, as the study attribute ``outer``: results
    by name (``default``, ``incumbent<N>``, ``tuned``; the checks' ``controls``, ``chance`` and
    ``predictions`` inside the tuned one) beside the worker's facts. Read, never written."""
    if not isinstance(outer, dict):
        return None

    def result(d: dict) -> OuterResult:
        return OuterResult(d.get("trial"), dict(d.get("config") or {}), d.get("fit_seconds"),
                           dict(d.get("scores") or {}), d.get("error"))

    tuned = outer.get("tuned") if isinstance(outer.get("tuned"), dict) else None
    incumbents = sorted((result(v) for k, v in outer.items()
                         if k.startswith("incumbent") and isinstance(v, dict)),
                        key=lambda r: (r.trial is None, r.trial or 0))
    extra = tuned or {}
    controls = [Control(c.get("seed", i), dict(c.get("scores") or {}), c.get("error"),
                        c.get("seconds") or 0.0) for i, c in enumerate(extra.get("controls") or [])]
    p = extra.get("predictions")
    predictions = Predictions(list(p["rows"]), [v if isinstance(v, list) else [v]
                                                for v in p["values"]]) if p else None
    default = outer.get("default")
    return OuterEvent(cell, result(default) if isinstance(default, dict)
                      else OuterResult.lost("not stored"), result(tuned) if tuned else None,
                      incumbents, controls, dict(extra.get("chance") or {}), predictions,
                      Where(outer.get("node_id")), outer.get("seconds"), outer.get("cpu_seconds"),
                      outer.get("threads"))


def _second_writer(url: str, what: str, exc: Exception) -> ConfigError:
    """Another process wrote what this run was storing: the database refused it."""
    return ConfigError([Problem(
        url, f"one driver at a time writes a store: {what} this run was storing is already "
        "there, written by another process", str(getattr(exc, "orig", exc))[:200],
        "let the other run finish (each run needs its own --out, or --storage)")])


def _schema_problem(exc: Exception) -> bool:
    """Errors that mean Optuna's tables are not what ``_insert`` expects (never data errors)."""
    from sqlalchemy.exc import NoSuchColumnError

    return isinstance(exc, (AttributeError, NoSuchColumnError))
