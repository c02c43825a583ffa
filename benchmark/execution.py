"""The only module that talks to Ray.

A cell (dataset, outer fold, learner) is one Ray task: a streaming generator that runs the cell's
trials one after another and yields each finished trial at once, so the driver writes it to the
store while the cell goes on. Sampling thus happens inside the workers, in parallel across cells,
and the driver only records. Dataset arrays go to the object store once per run (``ray.put``).
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import ray

LOOPBACK = "127.0.0.1"


@dataclass
class Job:
    key: str
    args: tuple  # (cell, data, fold, space, settings, history); data may be an ObjectRef
    deep: bool
    attempt: int = 0


@ray.remote
def _cell_task(cell, data, fold, space, settings, history):
    from threadpoolctl import threadpool_limits

    from .search import run_cell

    node = ray.get_runtime_context().get_node_id()
    where = {"node_id": node, "host": socket.gethostname(), "pid": os.getpid()}
    with threadpool_limits(limits=settings.threads):
        for event in run_cell(cell, data, fold, space, settings, history):
            yield {**event, **where}


class Session:
    """An embedded local Ray (loopback only) or a connection to an existing cluster."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None,
                 cpus_per_trial: int = 1, gpus_per_deep_trial: float = 0.25):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.num_cpus = num_cpus
        self.cpus_per_trial = cpus_per_trial
        self.gpus_per_deep_trial = gpus_per_deep_trial
        self._started = False

    def __enter__(self) -> "Session":
        if ray.is_initialized():
            return self
        if self.address:
            ray.init(address=self.address, configure_logging=False)
        else:
            # Single-node Ray binds to 127.0.0.1 with this set before it starts (Linux).
            os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
            ray.init(num_cpus=self.num_cpus, include_dashboard=False, dashboard_host=LOOPBACK,
                     _node_ip_address=LOOPBACK, log_to_driver=False, configure_logging=False)
            self._started = True
        return self

    def __exit__(self, *exc) -> None:
        if self._started:
            ray.shutdown()

    @property
    def embedded(self) -> bool:
        return self._started

    def put(self, obj: Any):
        return ray.put(obj)

    def total_cpus(self) -> int:
        return int(ray.cluster_resources().get("CPU", 1))

    def has_gpus(self) -> bool:
        return ray.cluster_resources().get("GPU", 0) > 0

    def _submit(self, job: Job):
        gpus = self.gpus_per_deep_trial if job.deep and self.has_gpus() else 0
        return _cell_task.options(num_cpus=self.cpus_per_trial, num_gpus=gpus, max_retries=0,
                                  name=job.key).remote(*job.args)

    def stream(self, jobs: list[Job], on_crash: Callable[[Job, Exception], Job | None]
               ) -> Iterator[dict]:
        """Yield every event of every job as it arrives.

        When a worker dies (or the task raises outside a trial), ``on_crash`` may return a new job
        to resubmit, built from what the store holds by then; None gives the cell up.
        """
        running = {self._submit(job): job for job in jobs}
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            for gen in ready:
                job = running[gen]
                try:
                    yield ray.get(next(gen))
                except StopIteration:
                    del running[gen]
                except (ray.exceptions.RayError, OSError) as exc:
                    del running[gen]
                    again = on_crash(job, exc)
                    if again is not None:
                        running[self._submit(again)] = again
