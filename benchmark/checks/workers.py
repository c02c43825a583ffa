"""Worker processes for the second phase's refits: one per CPU, one thread each.

Plain subprocesses fed through pipes, because the alternatives misbehave here: threads contend
for the GIL (the deep models' training loop is Python), forked children inherit the threads of
Ray and OpenMP, and ``multiprocessing``'s spawned children re-run the caller's ``__main__``.
Each job is seeded on its own, so results do not depend on which worker ran it. A job whose
worker died runs in the driver. Data and predictions travel through the pipes only, never
through a file (sensitive datasets), and each dataset crosses a pipe once per worker.
Workers ignore Ctrl-C (the driver stops them) and exit when their pipe closes.
"""
from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

from . import refit

MAX_WORKERS = 8
# One thread per worker for every pool a library may start once the worker runs.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
COMMAND = ("import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); "
           "from benchmark.checks.workers import serve; serve()")


def run_all(jobs: list, max_workers: int = MAX_WORKERS) -> list[dict]:
    """``refit.run`` of every job, in the jobs' order; side by side when there are CPUs."""
    order = sorted(range(len(jobs)), key=lambda i: (jobs[i].role != "deep", -jobs[i].data.X.size))
    n = min(len(jobs), os.cpu_count() or 1, max_workers)
    done: dict[int, dict] = {}
    if n > 1:
        _in_workers(jobs, order[::-1], n, done)
    with refit.one_thread():
        for i in order:
            if i not in done:
                done[i] = refit.run(jobs[i])
    return [done[i] for i in range(len(jobs))]


def _in_workers(jobs: list, queue: list[int], n: int, done: dict) -> None:
    env = {**os.environ, **{k: "1" for k in THREAD_VARIABLES}, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", COMMAND], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) for _ in range(n)]
    lock = threading.Lock()
    threads = [threading.Thread(target=_drive, args=(p, jobs, queue, lock, done), daemon=True)
               for p in procs]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


def _drive(proc: subprocess.Popen, jobs: list, queue: list[int], lock: threading.Lock,
           done: dict) -> None:
    """Feed one worker jobs from ``queue`` until it is empty (or the worker dies)."""
    sent: set[str] = set()
    try:
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop()
            job = jobs[i]
            if job.dataset not in sent:  # the dataset once, then jobs without it
                pickle.dump(("data", job.dataset, job.data), proc.stdin)
                sent.add(job.dataset)
            pickle.dump(("job", dataclasses.replace(job, data=None)), proc.stdin)
            proc.stdin.flush()
            done[i] = pickle.load(proc.stdout)
    except (EOFError, OSError, pickle.UnpicklingError):
        return  # the worker died: what it had left runs in the driver
    finally:
        proc.stdin.close()
        proc.wait()


def serve() -> None:
    """The worker's loop: datasets and jobs in on stdin, one result per job out on stdout."""
    import warnings

    warnings.filterwarnings("ignore")  # the driver's terminal is not the workers'
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but results may reach the pipe
    data = {}
    with refit.one_thread():
        while True:
            try:
                message = pickle.load(inp)
            except EOFError:
                return
            if message[0] == "data":
                data[message[1]] = message[2]
                continue
            job = message[1]
            pickle.dump(refit.run(dataclasses.replace(job, data=data[job.dataset])), out)
            out.flush()
