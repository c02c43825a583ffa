"""Run-folder policy: which folder a run may use, and what it writes there before any cell runs.

A run folder belongs to one driver at a time and to the inputs it was made from: ``check_folder``
refuses anything else before a file in it is written. Then the runner opens the store, writes the
manifest (``new_manifest``) and the split plans (``save_splits``).
"""
from __future__ import annotations

import socket
from pathlib import Path

from . import run_folder, run_manifest
from .errors import ConfigError, Problem, raise_if
from .ray_session import check_address, clean_leftovers, keep_session
from .planning import StudyPlan
from .store import STORE_FILE, Store, default_url, sqlite_file
from .store import check as check_store


def check_folder(plan: StudyPlan, run_dir: Path, storage: str | None = None,
                 address: str | None = None) -> dict | None:
    """Every reason the run folder would refuse this run, found without writing anything (not
    even the folder): another driver in it, an unreachable cluster, a read-only folder, another
    study, other data or split plans, a damaged or lost store. Raises one ConfigError with them
    all; returns the folder's previous manifest (None for a new folder)."""
    run_dir = Path(run_dir)
    problems = check_address(address)
    who = run_manifest.holder(run_dir)
    if who is not None:  # the rest may be mid-change under the other driver
        raise ConfigError(problems + [run_manifest.held(run_dir / run_manifest.LOCK, who)])
    previous = run_manifest.read(run_dir)
    raise_if(problems + folder_problems(plan, run_dir, storage or default_url(run_dir), previous))
    return previous


def folder_problems(plan: StudyPlan, run_dir: Path, url: str, previous: dict | None
                    ) -> list[Problem]:
    """Why the folder (with ``previous``, its manifest) cannot take this run: unwritable files,
    another study, other inputs, another or a damaged store."""
    files = [run_dir / run_manifest.MANIFEST, run_dir / run_manifest.LOCK]
    if (db := sqlite_file(url)) is not None:
        files += [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    problems = run_manifest.writable_problems(run_dir, files)
    if previous is None:
        return problems + check_store(url, None)
    study = _study_problems(plan, run_dir, previous)
    inputs = [] if study else _input_problems(plan, run_dir, previous)
    where = _store_problems(run_dir, url, previous)
    return problems + study + inputs + (where or check_store(url, _recorded(previous)))


def _study_problems(plan: StudyPlan, run_dir: Path, previous: dict) -> list[Problem]:
    """Another study's folder (other datasets, learners, seed, metric, budget or splits)."""
    config = plan.study.model_dump()
    if previous.get("config_hash") == run_manifest.config_hash(config):
        return []
    changed = _changes(previous.get("config") or {}, config)
    return [Problem(str(run_dir / run_manifest.MANIFEST), "a run folder resumes only the study "
                    "that made it", "; ".join(changed[:8]) or "a different study", "rerun with "
                    "the same study, trials and seed, or pass a new --out for the new settings")]


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


def _input_problems(plan: StudyPlan, run_dir: Path, previous: dict) -> list[Problem]:
    """Data or split plans other than those the folder was made from: resuming would mix
    trials scored on two datasets (or index past the end of a shorter one)."""
    where, problems = str(run_dir / run_manifest.MANIFEST), []
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
    return [Problem(str(run_dir / run_manifest.MANIFEST), "a run folder resumes from the store its "
                    f"trials are in ({old})", url, f"pass --storage {old}, or a new --out")]


def _recorded(previous: dict) -> int:
    """Trials the manifest says are stored (older manifests: 1 for a finished run)."""
    if isinstance(previous.get("trials_stored"), int):
        return previous["trials_stored"]
    return 1 if previous.get("status") == "complete" else 0


def new_manifest(plan: StudyPlan, previous: dict | None, store_url: str, stored: int) -> dict:
    """The manifest a run writes as it starts (``status: running``), keeping what a previous
    driver recorded that must not change (when it started, the population)."""
    config = plan.study.model_dump()
    return {
        "study": plan.study.name, "config": config, "config_hash": run_manifest.config_hash(config),
        "seed": plan.study.seed, "storage": store_url,
        "started": (previous or {}).get("started", run_manifest.now()), "status": "running",
        "trials_stored": stored,
        # deep trials trained together (final once Ray is up and knows the GPUs)
        "population": (previous or {}).get("population")
        or plan.study.resources.population_for(plan.gpus),
        "versions": run_manifest.versions(), "git_commit": run_manifest.git_commit(),
        "hardware": run_manifest.hardware(),
        "datasets": {n: {**d.profile(), "content_sha256": plan.content_sha256(n),
                         "metric": plan.metrics[n], "split_sha256": plan.splits[n].digest}
                     for n, d in plan.datasets.items()},
        "pairs": [list(p) for p in plan.pairs], "skipped": [list(s) for s in plan.skipped],
        # pairs whose learner has nothing to tune there: trial 0 only, "no hyper-parameters"
        "no_hyperparameters": [list(p) for p in plan.pairs if not plan.tunes(*p)],
        "seeds": "derived as sha256(study seed, dataset, fold, learner, trial): see benchmark.seeding",
    }


def save_splits(plan: StudyPlan, run_dir: Path) -> None:
    """Each dataset's split plan, written where it is missing or not this plan."""
    (run_dir / run_folder.SPLITS).mkdir(parents=True, exist_ok=True)
    for name, sp in plan.splits.items():
        if _saved_plan_hash(run_dir, name) != sp.digest:
            sp.save(run_folder.split_file(run_dir, name))


def open_store(url: str) -> Store:
    """The run's store; a storage that cannot be opened is a ConfigError naming the URL."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return Store(url)
    except SQLAlchemyError as exc:  # e.g. a database server that is not there
        raise ConfigError([Problem("--storage", "the store must be an Optuna storage this "
                                   "machine can open", f"{url}: {str(exc).splitlines()[0][:200]}",
                                   "check the URL and that the database is running")]) from None


def clean_after(previous: dict) -> None:
    """What the folder's last driver left on this machine if it was killed: its embedded Ray's
    processes and temp folder (``ray_session.clean_leftovers``; nothing else is touched)."""
    if previous.get("ended") or previous.get("host") != socket.gethostname():
        return
    clean_leftovers(previous.get("ray_temp_dir"), keep=keep_session())
