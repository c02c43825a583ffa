"""Ctrl-C and SIGKILL mid-run leave a consistent store; rerunning resumes to exact budgets.

Each run is a real ``python -m benchmark run`` in its own process session (so the signal reaches
only what this test started), with its own embedded Ray.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from helpers import ROOT, cli, stored_trials, write_csv_dataset, write_study

TRIALS = 12


def _start_and_stop(study, out, sig) -> pd.DataFrame:
    # A run started from a terminal gets Ctrl-C; one started by a shell in the background (as
    # `make test &` would start this test) inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: the run is started as from a terminal, whatever started the tests.
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a handler: SIG_DFL after exec
    try:
        proc = subprocess.Popen([sys.executable, "-m", "benchmark", "run", str(study), "--out",
                                 str(out), "--no-report"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    finally:
        if ignored:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(stored_trials(out / "optuna.db")) < 10:
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be interrupted"
        if sig == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
            output, _ = proc.communicate(timeout=60)
            assert proc.returncode == 130, output
            assert "run the same command again to resume" in output
        else:
            os.kill(proc.pid, signal.SIGKILL)  # the driver alone dies, mid-write
            proc.wait(timeout=30)
    finally:
        try:  # whatever this test started and is still alive (Ray's processes), stop it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return stored_trials(out / "optuna.db")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_interrupted_run_resumes_exactly(tmp_path, sig):
    ds = write_csv_dataset(tmp_path, n=300, groups=30)
    # random_forest's trials take a tenth of a second or more: the run cannot end between the
    # moment 10 trials are stored and the signal (the other two learners store 72 in ~0.5 s).
    study = write_study(tmp_path, [ds.name], ["logreg", "naive_bayes", "random_forest"],
                        trials=TRIALS)
    out = tmp_path / "run"
    before = _start_and_stop(study, out, sig)
    assert 0 < len(before) < 2 * 3 * TRIALS
    done = cli("run", str(study), "--out", str(out), "--no-report", timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    after = stored_trials(out / "optuna.db")
    counts = after.groupby("study").number.agg(["count", "nunique"])
    assert len(counts) == 6 and (counts["count"] == TRIALS).all() and (counts["nunique"] == TRIALS).all()
    # nothing stored before the interruption ran again: same rows, same start times
    kept = before.merge(after, on=["study", "number"], suffixes=("_before", "_after"))
    assert len(kept) == len(before)
    assert (kept.start_before == kept.start_after).all()
    assert set(after.state) <= {"COMPLETE", "FAIL"}
    trials = pd.read_parquet(out / "trials.parquet")
    assert len(trials) == 6 * TRIALS


def test_seconds_cap_counts_the_trials_stored_before_a_resume(tmp_path):
    """``budget.seconds`` caps a cell's trial time across resumes: a resumed cell whose stored
    trials already took longer than the cap goes straight to its outer evaluation."""
    from dataclasses import replace

    from benchmark.records import OuterEvent, TrialEvent
    from benchmark.runner import prepare
    from benchmark.search import run_cell

    ds = write_csv_dataset(tmp_path)
    plan = prepare(str(write_study(tmp_path, [ds.name], ["naive_bayes"], trials=5)))
    cell = plan.cells()[0]
    args = (plan.datasets[cell.dataset], plan.splits[cell.dataset].folds[0],
            plan.spaces["naive_bayes"])
    settings = replace(plan.settings(cell.dataset, 1), seconds=1.0)
    first = list(run_cell(cell, *args, settings))
    history = [replace(e, seconds=0.6) for e in first if isinstance(e, TrialEvent)][:2]  # 1.2 s
    resumed = [type(e) for e in run_cell(cell, *args, settings, history)]
    assert resumed == [OuterEvent]
    under = [type(e) for e in run_cell(cell, *args, settings,
                                       [replace(h, seconds=0.1) for h in history])]
    assert under.count(TrialEvent) == 3 and under[-1] is OuterEvent  # 0.2 s stored: the rest runs
