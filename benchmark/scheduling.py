"""Execution policy: which cells go to Ray in what order, the run's Ray session, crash retries.

``stream_cells`` submits every unfinished cell as a Ray task, heaviest first, and stores each
batch of finished trials as it arrives; ``after_crash`` decides what a task that died costs (a
retry from the store, or a trial or outer evaluation stored as failed); ``LazySession`` starts
Ray only when something needs it and runs the checks' refits on it.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Callable

from . import learners, run_manifest
from .ray_session import Job, Session, cluster_address
from .planning import StudyPlan
from .records import Cell, ChecksProgress, OuterEvent, Phase, TrialEvent, TrialOutcome
from .search import out_of_time
from .store import Store


def heavy_first(deep: bool, data) -> tuple:
    """Sort key of a task: deep ones first, then those on larger data, so the longest tasks
    start early and the short ones fill in around them."""
    return (not deep, -data.X.size)


def make_job(plan: StudyPlan, store: Store, cell: Cell, refs: dict, threads: int, attempt: int = 0
             ) -> Job:
    """The cell's task, resuming from its stored trials."""
    history = store.history(cell, plan.direction(cell.dataset))
    return Job(cell=cell, data=refs[cell.dataset], fold=plan.splits[cell.dataset].folds[cell.fold],
               space=plan.spaces[cell.learner],
               settings=plan.settings(cell.dataset, threads, cell.learner), history=history,
               deep=learners.get(cell.learner).FAMILY == "deep", attempt=attempt, at=len(history))


def stream_cells(plan: StudyPlan, store: Store, todo: list[Cell], session: Session, refs: dict,
                 emit: Callable[[object], None]) -> None:
    """Every unfinished cell as a Ray task, each finished trial stored as it arrives."""
    res = plan.study.resources
    todo = sorted(todo, key=lambda c: heavy_first(learners.get(c.learner).FAMILY == "deep",
                                                  plan.datasets[c.dataset]))
    # Built one by one as they are submitted (each reads its cell's stored trials), so the
    # first cells run while the store is still being read for the others.
    jobs = (make_job(plan, store, c, refs, res.cpus_per_trial) for c in todo)

    def on_crash(job: Job, exc: Exception) -> Job | None:
        return after_crash(plan, store, job, exc, refs, emit)

    def direction(cell: Cell) -> str:
        return plan.direction(cell.dataset)

    # Each batch (what finished since the last one) is stored in one transaction before
    # the next is awaited, and before any crash is handled, so a retry resumes from it.
    for batch in session.stream(jobs, on_crash):
        store.record(batch, direction)
        for event in batch:
            emit(event)


class LazySession:
    """The run's Ray session, started the first time something needs it (a resumed run whose
    cells and checks are all done never starts Ray), with the datasets put once."""

    def __init__(self, plan: StudyPlan, address: str | None, num_cpus: int | None,
                 lock: run_manifest.FolderLock, emit: Callable[[object], None]):
        self.plan, self.address, self.num_cpus = plan, address, num_cpus
        self.lock, self.emit = lock, emit
        self._stack = ExitStack()
        self._open: tuple[Session, dict] | None = None

    def __enter__(self) -> "LazySession":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def get(self) -> tuple[Session, dict]:
        """The session and the datasets' object refs, Ray started on the first call."""
        if self._open is None:
            res = self.plan.study.resources
            self.emit(Phase("ray", cluster_address(self.address)))
            # The embedded Ray's folder is recorded before Ray starts, so that if this driver
            # is killed the next one finds what it left (``folder_policy.clean_after``).
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
                       key=lambda i: heavy_first(jobs[i].role == "deep", jobs[i].data))
        calls = [((replace(jobs[i], data=None), refs[jobs[i].dataset]), jobs[i].role == "deep")
                 for i in order]
        self.emit(ChecksProgress(0, len(calls)))
        out = session.map(refit.run_on, calls, self.plan.study.resources.retries,
                          lambda k, exc: refit.lost(jobs[order[k]], exc),
                          lambda n: self.emit(ChecksProgress(n, len(calls))))
        results = [None] * len(jobs)
        for k, i in enumerate(order):
            results[i] = out[k]
        return results


def after_crash(plan: StudyPlan, store: Store, job: Job, exc: Exception, refs: dict,
                emit: Callable[[object], None]) -> Job | None:
    """A cell's task failed outside any trial: its worker or node died, or the code around the
    trials raised. Resubmit the cell from the store, so finished trials never run again and the
    trial in flight runs again with the same seed. A trial lost more than ``resources.retries``
    times is stored as failed with the cause (it counts toward the budget) and the cell goes on;
    an outer evaluation lost that often is stored as failed and the cell ends.
    """
    cell, settings = job.cell, job.settings
    direction = plan.direction(cell.dataset)
    if store.has_outer(cell):  # it died after its last event: nothing lost
        return None
    history = store.history(cell, direction)
    number = len(history)  # the trial in flight (or the outer evaluation)
    outer_stage = number >= settings.trials or out_of_time(
        settings, sum(h.seconds or 0.0 for h in history))
    lost = job.attempt + 1 if number == job.at else 1  # the count restarts once a trial got through
    if lost <= plan.study.resources.retries:
        return make_job(plan, store, cell, refs, settings.threads, lost)
    cause = f"the task running it failed {lost} times: {type(exc).__name__}: {str(exc)[:500]}"
    if outer_stage:  # the outer evaluation itself kept dying
        outer = OuterEvent.lost(cell, cause)
        store.record_outer(outer, direction)
        emit(outer)
        return None
    trial = TrialEvent.of(TrialOutcome.failed({}, 0.0, cause), cell, number)
    store.record_trial(trial, direction)
    emit(trial)
    return make_job(plan, store, cell, refs, settings.threads, 0)
