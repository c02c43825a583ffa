"""A progress bar with an ETA over the run's remaining trials (rich)."""
from __future__ import annotations

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


class RunProgress:
    def __init__(self, plan):
        self.plan = plan
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("failed {task.fields[failed]}"),
                                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                  transient=False)
        self._task = None

    def __enter__(self) -> "RunProgress":
        self._progress.start()
        self._task = self._progress.add_task(f"{self.plan.study.name}: trials", total=None, failed=0)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._progress.stop()

    def update(self, event: dict) -> None:
        if event["kind"] == "start":
            self._progress.update(self._task, total=event["remaining"])
            return
        if event["kind"] == "checks":  # the cells are done; the checks' refits follow
            self._progress.update(self._task, description=f"{self.plan.study.name}: checks")
            return
        failed = self._progress.tasks[0].fields["failed"] + (event.get("state") == "FAIL")
        self._progress.update(self._task, advance=1, failed=failed,
                              description=f"{self.plan.study.name}: {event['cell'].key}")
