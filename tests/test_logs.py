"""Progress where no one watches a terminal (a cluster job's log, nohup): plain lines with
counts and elapsed time, trials and checks counted apart."""
from __future__ import annotations

import io
import re
from types import SimpleNamespace

from benchmark.progress import RunProgress
from benchmark.records import (Cell, ChecksProgress, OuterEvent, OuterResult, Phase, RunStarted,
                               TrialEvent)

from helpers import cli, write_csv_dataset, write_study

LINE = re.compile(r"^\[\d+:\d\d:\d\d\] tiny: (.+)$")


def _lines(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := LINE.match(line))]


def test_a_run_without_a_terminal_prints_plain_lines(tmp_path):
    """A real driver with stdout to a pipe: one line per N trials and per phase, no bar."""
    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["naive_bayes"], trials=2)
    res = cli("run", str(study), "--out", str(tmp_path / "run"), "--no-report", "--log-every", "2",
              timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    lines = _lines(res.stdout)
    assert lines[0] == "2 cells to run (0 done before), 4 trials", lines
    assert "starting an embedded Ray on 127.0.0.1" in lines
    trials = [l for l in lines if l.startswith("trials ")]
    assert [t.split(",")[0] for t in trials] == ["trials 2/4 (0 failed)", "trials 4/4 (0 failed)",
                                                 "trials 4/4 (0 failed)"], lines
    assert trials[-1] == "trials 4/4 (0 failed), cells 2/2; writing the tables"
    checks = [l for l in lines if re.fullmatch(r"checks: \d+/\d+ refits", l)]
    assert checks[0] == "checks: 0/2 refits" and checks[-1] == "checks: 2/2 refits", lines
    assert lines[-1] == "done: 4 trials (0 failed), 2 cells, 2 check refits"
    assert "\x1b[" not in res.stdout and "ETA" not in res.stdout


def _plan():
    return SimpleNamespace(study=SimpleNamespace(name="tiny"))


def _cell(key: str) -> Cell:
    dataset, fold, learner = key.split("/")
    return Cell(dataset, int(fold[4:]), learner)


def _trial(key: str, state: str = "COMPLETE") -> TrialEvent:
    return TrialEvent(state, None, {}, 0.0, cell=_cell(key))


def _outer(key: str) -> OuterEvent:
    return OuterEvent(_cell(key), OuterResult(0, {}, None, {}))


def test_trials_cells_and_checks_are_counted_apart():
    """A cell that stops early (``budget.seconds``) takes its unrun trials out of the total;
    failed trials are counted; outer evaluations and check refits never count as trials."""
    out = io.StringIO()
    progress = RunProgress(_plan(), every=3, stream=out, live=False)
    a, b = "toy/fold0/knn", "toy/fold1/knn"
    events = [RunStarted({a: 4, b: 4}, cells_total=3),
              _trial(a), _trial(a, "FAIL"), _trial(b), _outer(b),  # b stopped after 1 of 4
              _trial(a), _trial(a), _outer(a),
              Phase("export"), Phase("checks"), *(ChecksProgress(n, 2) for n in range(3)),
              Phase("done")]
    for event in events:
        progress.update(event)
    assert _lines(out.getvalue()) == [
        "2 cells to run (1 done before), 8 trials",
        "trials 3/8 (1 failed), cells 0/2",
        "trials 5/5 (1 failed), cells 1/2",
        "trials 5/5 (1 failed), cells 2/2; writing the tables",
        "checks: data checks, then refits",
        "checks: 0/2 refits", "checks: 1/2 refits", "checks: 2/2 refits",
        "done: 5 trials (1 failed), 2 cells, 2 check refits"]


def test_the_terminal_bar_shows_trials_and_checks_as_two_counts():
    progress = RunProgress(_plan(), stream=io.StringIO(), live=True)
    a = "toy/fold0/knn"
    for event in [RunStarted({a: 2}), _trial(a), _trial(a), _outer(a), ChecksProgress(1, 3)]:
        progress.update(event)
    progress.stop()
    tasks = {t.description.split(": ")[1]: (t.completed, t.total)
             for t in progress._bar._progress.tasks}
    assert tasks == {"trials": (2, 2), "checks": (1, 3)}


def test_the_default_gives_at_most_twenty_lines_of_trial_counts():
    for total in (7, 36, 816):
        out = io.StringIO()
        progress = RunProgress(_plan(), stream=out, live=False)
        a = "toy/fold0/knn"
        for event in [RunStarted({a: total}), *(_trial(a) for _ in range(total))]:
            progress.update(event)
        counts = [line for line in _lines(out.getvalue()) if line.startswith("trials ")]
        assert 1 <= len(counts) <= 20 and counts[-1].startswith(f"trials {total}/{total}")
        assert len(counts) >= min(total, 18)  # not far fewer either


def test_summary_seconds_never_show_a_learner_that_ran_as_zero():
    from benchmark.summary import _seconds

    assert [_seconds(v) for v in (0.0, 0.0412, 0.5, 135.54)] == ["0.0", "0.041", "0.5", "135.5"]
