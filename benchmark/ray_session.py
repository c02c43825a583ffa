"""The only module that talks to Ray.

A cell (dataset, outer fold, learner) is one Ray task: a streaming generator that runs the cell's
trials one after another and yields each finished trial at once, so the driver writes it to the
store while the cell goes on. Sampling thus happens inside the workers, in parallel across cells,
and the driver only records: each round of waiting returns whatever trials have finished since
the last one, and the driver stores them in one transaction. Dataset arrays go to the object
store once per run (``ray.put``).

The embedded Ray (no address given) listens on 127.0.0.1 only and keeps Ray's token
authentication on. On a cluster (``--address`` or ``RAY_ADDRESS``, e.g. inside ``ray job
submit``) the cluster's own settings apply; see docs/cluster.md.

The embedded Ray keeps its session (sockets, logs, spilled objects) in a temp folder of its own
(``new_temp_dir``), removed when the run ends unless ``BENCHMARK_KEEP_RAY_SESSION`` is set; a
driver that was killed leaves that folder and some of Ray's processes behind, and the next driver
of the same run folder removes them (``clean_leftovers``): they are found by that folder, which
no other process uses.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator

import ray

from .errors import ConfigError, Problem
from .records import Cell, OuterEvent, StoredTrial, TrialEvent, Where

LOOPBACK = "127.0.0.1"
KEEP_SESSION = "BENCHMARK_KEEP_RAY_SESSION"  # set (not "0"): the embedded Ray's folder is kept
# Errors that mean the task (not a trial) failed: its worker or node died, or the code outside any
# trial raised. The cell is then resubmitted from the store (scheduling.after_crash).
TASK_ERRORS = (ray.exceptions.RayError, OSError)


@dataclass
class Job:
    """One cell's Ray task: ``search.run_cell``'s arguments and what the retry policy needs."""

    cell: Cell
    data: Any  # the Dataset, or its ObjectRef
    fold: Any  # splits.Fold
    space: Any  # spaces.SearchSpace
    settings: Any  # search.CellSettings
    history: list[StoredTrial]  # the cell's stored trials
    deep: bool
    attempt: int = 0  # how many times the trial ``at`` has already been lost with its worker
    at: int = 0  # the first trial this job runs (the stored trials when it was built)

    @property
    def key(self) -> str:
        return self.cell.key

    @property
    def args(self) -> tuple:
        """``run_cell``'s arguments, in order."""
        return self.cell, self.data, self.fold, self.space, self.settings, self.history


@contextmanager
def thread_limits(threads: int, deep: bool):
    """BLAS/OpenMP pools (threadpoolctl) and torch's intra-op pool sized to the task's CPUs.

    threadpoolctl limits the libraries already loaded; the variables cover those a learner loads
    later in the task (e.g. XGBoost's OpenMP runtime), which read them when they start.
    """
    from threadpoolctl import threadpool_limits

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    torch = sys.modules.get("torch")
    if deep and torch is None:
        import torch
    saved = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        if torch is not None and saved is not None:
            torch.set_num_threads(saved)


def thread_counts() -> dict[str, Any]:
    """What a learner running here would get: BLAS and OpenMP pool sizes, torch threads."""
    from threadpoolctl import threadpool_info

    pools: dict[str, set[int]] = {}
    for pool in threadpool_info():
        pools.setdefault(pool["user_api"], set()).add(int(pool["num_threads"]))
    torch = sys.modules.get("torch")
    return {"blas": sorted(pools.get("blas", ())), "openmp": sorted(pools.get("openmp", ())),
            "torch": torch.get_num_threads() if torch is not None else None,
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


@ray.remote
def _cell_task(cell, data, fold, space, settings, history):
    """``search.run_cell`` in a worker: each event it yields, stamped with where it ran; the outer
    evaluation also with its compute (for the efficiency figures) and the thread pools it saw."""
    from . import learners
    from .search import run_cell

    where = Where(ray.get_runtime_context().get_node_id(), socket.gethostname(), os.getpid())
    deep = learners.get(cell.learner).FAMILY == "deep"
    with thread_limits(settings.threads, deep):
        events = run_cell(cell, data, fold, space, settings, history)
        t, cpu = time.perf_counter(), time.thread_time()
        for event in events:
            if isinstance(event, OuterEvent):
                event = replace(event, seconds=time.perf_counter() - t,
                                cpu_seconds=time.thread_time() - cpu, threads=thread_counts())
            yield replace(event, where=where)
            t, cpu = time.perf_counter(), time.thread_time()


@ray.remote
def _call_task(fn, threads: int, deep: bool, *args):
    with thread_limits(threads, deep):
        return fn(*args)


@ray.remote
def _probe_threads(threads: int, deep: bool) -> dict:
    with thread_limits(threads, deep):
        return thread_counts()


def probe_threads(cpus_per_trial: int, deep: bool = True) -> dict:
    """Thread counts inside a Ray task that asks for ``cpus_per_trial`` CPUs, as cells see them."""
    return ray.get(_probe_threads.options(num_cpus=cpus_per_trial).remote(cpus_per_trial, deep))


@contextmanager
def _loopback_only():
    """Make a local Ray started from this process use 127.0.0.1 for every server it starts.

    Ray resolves the node address to the machine's interface address (and its servers then
    listen on all interfaces) unless clusters are disabled; that switch is read when ``ray`` is
    imported, so it is set both for this process and, through the environment, for Ray's own
    processes started from it. Both are restored afterwards.
    """
    import ray._private.ray_constants as constants

    var, saved = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", constants.ENABLE_RAY_CLUSTER
    saved_env = os.environ.get(var)
    os.environ[var], constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = saved
        if saved_env is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = saved_env


AUTH_NOTICE = "ray._private.authentication.authentication_token_setup"


@contextmanager
def _quiet(logger_name: str):
    """Ray's notice that token authentication is on, which ends by suggesting to turn it off."""
    import logging

    log = logging.getLogger(logger_name)
    saved, log.level = log.level, logging.ERROR
    try:
        yield
    finally:
        log.setLevel(saved)


# ------------------------------------------------------------------ addresses


def cluster_address(address: str | None) -> str | None:
    """The cluster a run joins: ``--address``, else ``RAY_ADDRESS``; None for an embedded Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` of an address (``ray://`` or ``http://`` prefixes allowed), else None
    (``auto``, ``local``: Ray resolves those itself, and fails at once if it cannot)."""
    rest = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def check_address(address: str | None, seconds: float = 5.0) -> list[Problem]:
    """An address nothing answers at, found in seconds: Ray itself retries it for minutes."""
    address = cluster_address(address)
    where = _host_port(address) if address else None
    if where is None:
        return []
    try:
        socket.create_connection(where, timeout=seconds).close()
    except TimeoutError:
        return [_unreachable(address, f"no answer within {seconds:g} s")]
    except OSError as exc:
        return [_unreachable(address, exc.strerror or type(exc).__name__)]
    return []


def _unreachable(address: str, why: str) -> Problem:
    return Problem("--address (or RAY_ADDRESS)", f"must be the address of a running Ray cluster's "
                   f"head that this machine can reach ({why})", address,
                   "start the cluster first (`ray start --head`), correct the address, or leave "
                   "it out (and unset RAY_ADDRESS) to run on an embedded Ray on this machine; see "
                   "docs/cluster.md")


# ------------------------------------------------------------------ the embedded Ray's leftovers


def new_temp_dir() -> str:
    """A folder of its own for an embedded Ray's session, under Ray's usual temp root.

    Short on purpose: Ray's socket paths inside it must stay under 108 characters.
    """
    root = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    return tempfile.mkdtemp(prefix="benchmark-ray-", dir=root)


def keep_session() -> bool:
    return os.environ.get(KEEP_SESSION, "0") not in ("", "0")


def processes_using(folder: str) -> list[int]:
    """This user's processes (this one excepted) that run from or write into ``folder``.

    Every process of a Ray session (GCS, raylet, agents, workers) logs into the session's folder,
    so an embedded Ray given a folder of its own is found exactly by it, even after Ray renames
    its processes (``ray::IDLE``) or they lose their parent. Linux only (/proc); elsewhere none.
    """
    prefix, me, uid, found = folder.rstrip("/") + "/", os.getpid(), os.getuid(), []
    proc = "/proc"
    for name in os.listdir(proc) if os.path.isdir(proc) else []:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            if os.stat(f"{proc}/{name}").st_uid != uid:
                continue
            with open(f"{proc}/{name}/cmdline", "rb") as f:
                if prefix.encode() in f.read():
                    found.append(int(name))
                    continue
            fds = f"{proc}/{name}/fd"
            if any(os.readlink(f"{fds}/{fd}").startswith(prefix) for fd in os.listdir(fds)):
                found.append(int(name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def clean_leftovers(folder: str | None, keep: bool = False) -> list[int]:
    """Stop every process of the Ray session in ``folder`` and remove the folder (unless
    ``keep``); returns the pids stopped. Nothing else is touched: the folder is this session's."""
    if not folder:
        return []
    pids = processes_using(folder)
    alive = pids
    for sig in (signal.SIGTERM, signal.SIGKILL):  # a chance to exit cleanly, then none
        for pid in alive:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + 3.0
        while (alive := [p for p in alive if _alive(p)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive:
            break
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    return pids


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Session:
    """An embedded local Ray (loopback only) or a connection to an existing cluster.

    ``temp_dir``: the embedded Ray's own session folder (``new_temp_dir()`` if None), removed
    with whatever of Ray still uses it when the session ends, unless ``keep_session()``;
    ``on_temp_dir(folder)`` is called before Ray starts in it.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 cpus_per_trial: int = 1, gpus_per_deep_trial: float = 0.25,
                 temp_dir: str | None = None,
                 on_temp_dir: Callable[[str], None] | None = None):
        self.address = cluster_address(address)
        self.num_cpus = num_cpus
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_deep_trial = gpus_per_deep_trial
        self.temp_dir, self.on_temp_dir = temp_dir, on_temp_dir
        self._started = False
        self._gpus: bool | None = None
        self._stack = ExitStack()

    def __enter__(self) -> "Session":
        if ray.is_initialized():
            return self
        if self.address:
            self._join()
        else:
            self._start()
        return self

    def _join(self) -> None:
        try:
            ray.init(address=self.address, configure_logging=False)
        except ConnectionError as exc:  # e.g. "auto" with no cluster running here
            raise ConfigError([_unreachable(self.address, str(exc).splitlines()[0])]) from None

    def _start(self) -> None:
        self.temp_dir = self.temp_dir or new_temp_dir()
        if self.on_temp_dir:
            self.on_temp_dir(self.temp_dir)
        with ExitStack() as stack:
            stack.enter_context(_loopback_only())
            stack.enter_context(_quiet(AUTH_NOTICE))  # it suggests turning auth off
            # Token authentication: Ray turns it on for a new local cluster unless
            # RAY_AUTH_MODE says otherwise (making ~/.ray/auth_token if there is none).
            ray.init(num_cpus=self.num_cpus, include_dashboard=False,
                     dashboard_host=LOOPBACK, _node_ip_address=LOOPBACK,
                     log_to_driver=False, configure_logging=False, _temp_dir=self.temp_dir)
            self._stack = stack.pop_all()  # restored when the session ends
        self._started = True

    def __exit__(self, *exc) -> None:
        if self._started:
            ray.shutdown()
            self._stack.close()
            keep = keep_session()
            clean_leftovers(self.temp_dir, keep=keep)  # Ray's processes that outlive shutdown
            if keep:
                print(f"Ray's session folder is kept ({KEEP_SESSION}): {self.temp_dir}",
                      file=sys.stderr)

    @property
    def embedded(self) -> bool:
        return self._started

    def put(self, obj: Any):
        return ray.put(obj)

    def total_cpus(self) -> int:
        return int(ray.cluster_resources().get("CPU", 1))

    def has_gpus(self) -> bool:
        if self._gpus is None:
            self._gpus = ray.cluster_resources().get("GPU", 0) > 0
        return self._gpus

    def _gpus_for(self, deep: bool) -> float:
        """GPUs a task asks for: deep ones share GPUs where the cluster has any."""
        return self.gpus_per_deep_trial if deep and self.has_gpus() else 0

    def _submit(self, job: Job):
        return _cell_task.options(num_cpus=self.cpus_per_trial, num_gpus=self._gpus_for(job.deep),
                                  max_retries=0, name=job.key).remote(*job.args)

    def map(self, fn: Callable, calls: list[tuple[tuple, bool]], retries: int,
            on_lost: Callable[[int, Exception], Any],
            on_done: Callable[[int], None] | None = None) -> list:
        """``fn(*args)`` for every ``(args, deep)`` of ``calls``, each a Ray task sized like a
        trial (deep ones ask for GPUs like deep trials), results in the calls' order.

        ``fn`` must give the same result when run again (seeded, no side effects): Ray reruns a
        task whose worker or node died up to ``retries`` times; after that ``on_lost(i, exc)``
        stands in for the result of call ``i``. ObjectRefs among the args arrive as their values.
        ``on_done(n)`` is told how many calls have finished, as they finish (for progress).
        """
        refs = [_call_task.options(num_cpus=self.cpus_per_trial, num_gpus=self._gpus_for(deep),
                                   max_retries=retries).remote(fn, self.cpus_per_trial, deep, *args)
                for args, deep in calls]
        index, out, waiting = {ref: i for i, ref in enumerate(refs)}, [None] * len(refs), refs
        while waiting:  # whatever is ready, else wait for one
            ready, waiting = ray.wait(waiting, num_returns=len(waiting), timeout=0)
            if not ready:
                ready, waiting = ray.wait(waiting, num_returns=1)
            for ref in ready:
                try:
                    out[index[ref]] = ray.get(ref)
                except TASK_ERRORS as exc:
                    out[index[ref]] = on_lost(index[ref], exc)
            if on_done:
                on_done(len(refs) - len(waiting))
        return out

    def _windows(self) -> tuple[int, int]:
        """How many cells to keep submitted, in all and deep ones: twice the trials the cluster
        can run at once, so a freed CPU (or GPU share) finds the next cell already queued in Ray,
        while the driver only ever waits on a few tasks (a wait costs in proportion to the tasks
        it watches). Deep cells wait for GPUs where there are any, so they get their own
        window: queued behind a few GPUs they must not keep the CPUs' cells out."""
        resources = ray.cluster_resources()
        slots = int(resources.get("CPU", 1) // max(self.cpus_per_trial, 1))
        window = 2 * max(slots, 1)
        if not self.has_gpus() or not self.gpus_per_deep_trial:
            return window, window
        gpu_slots = int(resources.get("GPU", 0) / self.gpus_per_deep_trial)
        return window, min(window, 2 * max(gpu_slots, 1))

    def stream(self, jobs: Iterable[Job], on_crash: Callable[[Job, Exception], Job | None]
               ) -> Iterator[list[TrialEvent | OuterEvent]]:
        """Yield the events of every job in batches, as they arrive.

        Jobs are submitted in order as the iterable yields them (building one may read the
        store), keeping ``_windows()`` of them submitted; a deep job over its window waits in
        ``held`` while later classical jobs go ahead. A batch is everything that finished
        since the previous one: the caller stores it in one transaction before asking for the
        next. When a job's task fails (its worker or node died, or the code around the trials
        raised), ``on_crash`` is called once the events that came before the failure have been
        yielded, so it sees them in the store; it may return a new job to submit, or None to
        give the cell up. Ray's own task retries are off: a retry must resume from the store,
        not from the cell's first trial.
        """
        pending, running, held = iter(jobs), {}, []
        window, deep_window = self._windows()
        while True:
            deep = sum(job.deep for job in running.values())
            while held and deep < deep_window and len(running) < window:
                job = held.pop(0)
                running[self._submit(job)] = job
                deep += 1
            while pending is not None and len(running) < window:
                job = next(pending, None)
                if job is None:
                    pending = None
                elif job.deep and deep >= deep_window:
                    held.append(job)
                else:
                    running[self._submit(job)] = job
                    deep += job.deep
            if not running:
                return
            gens = list(running)
            ready, _ = ray.wait(gens, num_returns=len(gens), timeout=0)
            if not ready:
                ready, _ = ray.wait(gens, num_returns=1)
            batch, done, crashed = [], [], []
            for gen in ready:
                while True:  # drain what this task has ready, without waiting
                    try:
                        # next() itself raises at the end of a failed stream; otherwise the
                        # failure arrives as a ref whose get raises.
                        batch.append(ray.get(next(gen)))
                    except StopIteration:
                        done.append(gen)
                        break
                    except TASK_ERRORS as exc:
                        crashed.append((gen, exc))
                        break
                    if not gen.next_ready():
                        break
            if batch:
                yield batch
            for gen in done:
                del running[gen]
            for gen, exc in crashed:
                _cancel(gen)  # in case the task is still alive: its retry takes over the cell
                self._gpus = None  # a GPU node may be gone: ask again before resubmitting
                again = on_crash(running.pop(gen), exc)
                if again is not None:
                    running[self._submit(again)] = again
            if (done or crashed) and (pending is not None or held):
                window, deep_window = self._windows()  # nodes may have joined or left


def _cancel(ref) -> None:
    try:
        ray.cancel(ref, force=True)
    except Exception:  # noqa: BLE001 - already finished or gone
        pass
