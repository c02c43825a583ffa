"""What a run is doing, from the runner's events (``records``): trials, cells and checks
counted apart.

On a terminal a live bar (rich) with an ETA; anywhere else (a cluster job's log, nohup, a pipe)
a bar would print nothing useful, so one plain line per ``every`` finished trials, per phase and
per tenth of the checks' refits, each with its counts and the elapsed time, flushed at once.
"""
from __future__ import annotations

import math
import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from .records import ChecksProgress, OuterEvent, Phase, RunStarted, TrialEvent

LOG_LINES = 20  # at most this many lines of trial counts in a run when --log-every is not given


class Counts:
    """Trials, cells and check refits: done and to do, from the runner's events."""

    def __init__(self):
        self.trials = self.trials_total = self.failed = 0
        self.cells = self.cells_total = self.cells_before = 0
        self.checks = self.checks_total = 0
        self._planned: dict[str, int] = {}  # cell key -> trials still to run at the start
        self._seen: dict[str, int] = {}

    def start(self, event: RunStarted) -> None:
        self._planned = dict(event.cells)
        self.trials_total = sum(self._planned.values())
        self.cells_total = len(self._planned)
        total = self.cells_total if event.cells_total is None else event.cells_total
        self.cells_before = total - self.cells_total

    def trial(self, event: TrialEvent) -> None:
        key = event.cell.key
        self._seen[key] = self._seen.get(key, 0) + 1
        self.trials += 1
        self.failed += event.state == "FAIL"

    def outer(self, event: OuterEvent) -> None:
        """A cell is done: trials it did not run (a ``budget.seconds`` cap) leave the total."""
        key = event.cell.key
        self.cells += 1
        self.trials_total -= max(0, self._planned.get(key, 0) - self._seen.get(key, 0))

    def check(self, event: ChecksProgress) -> None:
        self.checks, self.checks_total = event.done, event.total


class RunProgress:
    """The run's progress on ``stream`` (stdout): a live bar on a terminal, else plain lines."""

    def __init__(self, plan, every: int | None = None, stream: TextIO | None = None,
                 live: bool | None = None):
        self.name = plan.study.name
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.every = every
        self.counts = Counts()
        self._t0 = time.monotonic()
        self._bar: _Bar | None = None
        self._checks_logged = -1

    def __enter__(self) -> "RunProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, event) -> None:
        """Count one of the runner's events and show it."""
        c = self.counts
        if isinstance(event, RunStarted):
            c.start(event)
            self.every = self.every or max(1, math.ceil(c.trials_total / LOG_LINES))
            if self.live:
                self._bar = _Bar(self.name, c, self.stream)
            self._line(f"{c.cells_total} cells to run ({c.cells_before} done before), "
                       f"{c.trials_total} trials")
        elif isinstance(event, TrialEvent):
            c.trial(event)
            if c.trials % self.every == 0 or c.trials == c.trials_total:
                self._line(self._trials())
        elif isinstance(event, OuterEvent):
            c.outer(event)
        elif isinstance(event, ChecksProgress):
            c.check(event)
            step = max(1, c.checks_total // 10)
            if c.checks != self._checks_logged and (c.checks % step == 0
                                                    or c.checks == c.checks_total):
                self._checks_logged = c.checks
                self._line(f"checks: {c.checks}/{c.checks_total} refits")
        elif isinstance(event, Phase):
            self._phase(event)
        if self._bar is not None:
            self._bar.show(getattr(event, "cell", None))

    def _phase(self, event: Phase) -> None:
        c, name = self.counts, event.name
        if name == "ray":
            where = event.address
            self._line(f"joining the Ray cluster at {where}" if where else
                       "starting an embedded Ray on 127.0.0.1")
        elif name == "export":
            self._line(f"{self._trials()}; writing the tables")
        elif name == "checks":
            self._line("checks: data checks, then refits")
        elif name == "done":
            self._line(f"done: {c.trials} trials ({c.failed} failed), {c.cells} cells, "
                       f"{c.checks} check refits")

    def _trials(self) -> str:
        c = self.counts
        return (f"trials {c.trials}/{c.trials_total} ({c.failed} failed), "
                f"cells {c.cells}/{c.cells_total}")

    def _line(self, text: str) -> None:
        if self.live:
            return
        seconds = int(time.monotonic() - self._t0)
        clock = f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        print(f"[{clock}] {self.name}: {text}", file=self.stream, flush=True)


class _Bar:
    """Two rich bars: trials (with cells and failures), then the checks' refits."""

    def __init__(self, name: str, counts: Counts, stream: TextIO):
        self.name, self.counts = name, counts
        self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                  MofNCompleteColumn(), TextColumn("{task.fields[note]}"),
                                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                  console=Console(file=stream), transient=False)
        self._progress.start()
        self._trials = self._progress.add_task(f"{name}: trials", total=counts.trials_total,
                                               note="")
        self._checks = None

    def show(self, cell=None) -> None:
        c = self.counts
        note = f"cells {c.cells}/{c.cells_total}, failed {c.failed}"
        self._progress.update(self._trials, completed=c.trials, total=c.trials_total, note=note,
                              description=f"{self.name}: {cell.key if cell else 'trials'}")
        if c.checks_total and self._checks is None:
            self._checks = self._progress.add_task(f"{self.name}: checks", note="refits",
                                                   total=c.checks_total)
        if self._checks is not None:
            self._progress.update(self._checks, completed=c.checks, total=c.checks_total)

    def stop(self) -> None:
        self._progress.stop()
