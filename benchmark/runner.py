"""Run a study: validate everything, plan splits, stream cells through Ray into the store.

``prepare`` (``planning``) does all the checking (and data loading) before any compute is spent
and raises one ConfigError with every problem. ``execute`` resumes from whatever the store already
holds: a cell whose outer evaluation is stored is done; any other cell continues from its stored
trials. A run folder belongs to one driver at a time and to the inputs it was made from:
``check_folder`` (``folder_policy``) refuses anything else before a file in it is written. The
cells' order, the Ray session and the crash retries are ``scheduling``'s.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from . import run_manifest
from .errors import raise_if
from .folder_policy import (check_folder, clean_after, folder_problems, new_manifest,
                            open_store, save_splits)
from .planning import StudyPlan, prepare
from .records import Phase, RunStarted
from .scheduling import LazySession, stream_cells
from .store import Store, default_url

__all__ = ["StudyPlan", "prepare", "check_folder", "execute"]


def execute(plan: StudyPlan, run_dir: Path, address: str | None = None, storage: str | None = None,
            num_cpus: int | None = None, on_event: Callable[[object], None] | None = None
            ) -> dict:
    """Run (or resume) every unfinished cell; returns the final manifest.

    Nothing in ``run_dir`` is written until the run is known to be valid (``check_folder``),
    and then only by the driver holding the folder's lock. ``on_event`` sees the progress as
    ``records``: ``RunStarted`` (trials to run per unfinished cell), each ``TrialEvent`` and
    ``OuterEvent`` (a cell done), ``Phase`` changes (``ray``, ``export``, ``checks``, ``done``)
    and ``ChecksProgress`` (the checks' refits done, of all).
    """
    run_dir, emit = Path(run_dir), on_event or (lambda event: None)
    store_url = storage or default_url(run_dir)
    check_folder(plan, run_dir, storage, address)
    with run_manifest.FolderLock(run_dir) as lock:
        previous = run_manifest.read(run_dir)  # again: it may have changed before the lock was ours
        raise_if(folder_problems(plan, run_dir, store_url, previous))
        clean_after(lock.previous)
        lock.note(**run_manifest.driver_facts())
        store = open_store(store_url)  # before the manifest: a manifest implies a store
        try:
            info = new_manifest(plan, previous, store_url, sum(store.counts().values()))
            save_splits(plan, run_dir)
            run_manifest.write(run_dir / run_manifest.MANIFEST, info)
            _run(plan, run_dir, store, info, address, num_cpus, lock, emit)
            # Trials that arrived again for a number already stored (never kept): 0 unless a
            # stored trial was run a second time, which resuming must never do.
            info.update(status="complete", finished=run_manifest.now(),
                        trials_stored=sum(store.counts().values()),
                        trials_repeated=store.repeated)
        finally:
            store.close()
        run_manifest.write(run_dir / run_manifest.MANIFEST, info)
        lock.note(ended=run_manifest.now())
    return info


def _run(plan: StudyPlan, run_dir: Path, store: Store, info: dict, address: str | None,
         num_cpus: int | None, lock: run_manifest.FolderLock, emit: Callable[[object], None]
         ) -> None:
    """The cells through Ray into the store, then the export and the checks' second phase."""
    done = store.done()
    todo = [c for c in plan.cells() if c.key not in done]
    stored = store.counts()
    emit(RunStarted({c.key: max(0, plan.trials(c.dataset, c.learner) - stored.get(c.key, 0))
                     for c in todo}, len(plan.cells())))
    with LazySession(plan, address, num_cpus, lock, emit) as ray_session:
        if todo:
            session, refs = ray_session.get()
            info["ray"] = {"embedded": session.embedded, "cpus": session.total_cpus(),
                           "gpus": session.has_gpus()}
            plan.gpus = session.has_gpus()
            info["population"] = plan.study.resources.population_for(plan.gpus)
            stream_cells(plan, store, todo, session, refs, emit)
        from . import results

        emit(Phase("export"))
        results.export(store, run_dir, plan.datasets)
        emit(Phase("checks"))
        _run_checks(plan, run_dir, store, ray_session.run_refits)
    emit(Phase("done"))


def _run_checks(plan: StudyPlan, run_dir: Path, store: Store, run_jobs=None) -> None:
    """The checks' second phase (benchmark.checks): needs every cell's scores, writes checks.json."""
    from . import checks

    checks.run_checks(plan, run_dir, store, run_jobs)
