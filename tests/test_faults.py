"""Faults, each provoked for real: a trial that raises, a worker killed mid-trial, a worker node
lost mid-run, the driver killed and its job submitted again. After each: every cell holds exactly
its budget of trials, none twice, and nothing that was stored ran again.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd

from benchmark import results
from benchmark.runner import execute, prepare

from helpers import stored_trials, write_csv_dataset, write_study
from test_cluster import assert_exact_budgets, run_in_namespace


# ------------------------------------------------------------------ a trial that raises

def test_diverging_network_is_a_failed_trial_with_its_error(ray_local, tmp_path):
    space = tmp_path / "mlp_diverging.yaml"  # SGD at lr >= 1e8: the loss overflows at once
    space.write_text("learner: mlp\nsource: test\nparams:\n"
                     "  lr: {type: float, low: 1.0e+8, high: 1.0e+9, log: true}\n"
                     "fixed: {optimizer: sgd, depth: 2, width: 32, max_epochs: 20, patience: 20,"
                     " batch_size: 32}\ndefault: {lr: 1.0e+8}\n")
    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["mlp", "naive_bayes"], trials=3,
                        extra=f"spaces: {{mlp: {space.name}}}\n")
    out = tmp_path / "run"
    execute(prepare(str(study)), out)
    trials, scores, manifest = results.load(out)
    assert manifest["status"] == "complete"
    assert_exact_budgets(trials, cells=2 * 2, budget=3)
    mlp = trials[trials.learner == "mlp"]
    assert (mlp.state == "FAIL").all() and mlp.value.isna().all()
    assert mlp.error.str.contains(r"FloatingPointError: non-finite \w+ loss at epoch").all()
    assert (trials[trials.learner == "naive_bayes"].state == "COMPLETE").all()
    assert scores[scores.learner == "mlp"].error.notna().all()  # never scored, shown as failed


def test_out_of_memory_and_estimator_errors_are_failed_trials_shown_in_the_report(ray_local,
                                                                                 tmp_path):
    """Real faults, no mock: an MLP whose second layer would need 2**48 bytes (more than any
    address space, so the allocation fails at once whatever the machine) and a logistic
    regression given a solver scikit-learn refuses. Both learners' trials are stored as failed
    with their errors and count toward the budget; the other learner goes on; the report's
    budget table shows the failures and their errors."""
    from benchmark.report import build_report
    from benchmark.report.tables import budget_table

    (tmp_path / "mlp_huge.yaml").write_text(
        "learner: mlp\nsource: test\nparams:\n"
        "  lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true}\n"
        f"fixed: {{depth: 2, width: {2 ** 23}, max_epochs: 2, patience: 2, batch_size: 32}}\n"
        "default: {lr: 1.0e-3}\n")
    (tmp_path / "logreg_bad.yaml").write_text(
        "learner: logreg\nsource: test\nparams:\n"
        "  C: {type: float, low: 1.0e-2, high: 1.0e+2, log: true}\n"
        "fixed: {solver: no_such_solver}\ndefault: {C: 1.0}\n")
    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["mlp", "logreg", "naive_bayes"], trials=3,
                        extra="spaces: {mlp: mlp_huge.yaml, logreg: logreg_bad.yaml}\n")
    out = tmp_path / "run"
    execute(prepare(str(study)), out)
    trials, scores, manifest = results.load(out)
    assert manifest["status"] == "complete"
    assert_exact_budgets(trials, cells=3 * 2, budget=3)
    mlp, logreg = (trials[trials.learner == name] for name in ("mlp", "logreg"))
    assert (mlp.state == "FAIL").all() and (logreg.state == "FAIL").all()
    assert mlp.error.str.contains("can't allocate memory|out of memory", case=False).all(), \
        mlp.error.iloc[0]
    assert logreg.error.str.contains("solver").all() and logreg.error.str.contains(
        "no_such_solver").all(), logreg.error.iloc[0]
    assert (trials[trials.learner == "naive_bayes"].state == "COMPLETE").all()
    assert scores[scores.learner.isin(["mlp", "logreg"])].value.isna().all()  # never scored
    budget = budget_table(trials).set_index("learner")
    assert budget.loc["mlp", "failed"] == budget.loc["logreg", "failed"] == 6
    html = build_report(out).read_text()
    assert "no_such_solver" in html and "allocate" in html


# ------------------------------------------------------------------ a worker killed mid-trial

def test_check_refit_whose_worker_dies_is_rerun_then_reported(ray_local, tmp_path):
    """The checks' refits run as Ray tasks: a killed worker's job runs again; one that keeps
    dying gets ``on_lost``'s result and the others still come back, in order."""
    from benchmark.ray_session import Session

    def work(marker: str | None) -> str:  # local, so Ray ships it by value
        import os
        import signal
        from pathlib import Path

        if marker is None or not Path(marker).exists():  # SIGKILL: every time, or the first
            if marker is not None:
                Path(marker).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return f"ran in {os.getpid()}"

    calls = [((str(tmp_path / "a"),), False), ((None,), False), ((str(tmp_path / "b"),), True)]
    with Session() as session:
        out = session.map(work, calls, retries=1,
                          on_lost=lambda i, exc: ("lost", i, type(exc).__name__))
    assert str(out[0]).startswith("ran in") and str(out[2]).startswith("ran in"), out
    assert out[1] == ("lost", 1, "WorkerCrashedError"), out
    assert (tmp_path / "a").exists() and (tmp_path / "b").exists()


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        out[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmd.strip())
    return out


def _descendants(root: int) -> list[int]:
    procs, found, frontier = _processes(), [], [root]
    while frontier:
        children = [pid for pid, (ppid, _) in procs.items() if ppid in frontier]
        found += children
        frontier = children
    return found


def _worker_running(cell_key: str) -> int | None:
    """The pid of the Ray worker (a descendant of this test process) running ``cell_key``.

    Ray titles a worker ``ray::<task name>`` while it runs a task, and a cell's task is named
    after the cell.
    """
    procs = _processes()
    return next((pid for pid in _descendants(os.getpid())
                 if procs.get(pid, (0, ""))[1].split(" ")[0] == f"ray::{cell_key}"), None)


def _count(db: Path, study: str) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("select count(*) from trials join studies using(study_id) "
                               "where study_name = ?", (study,)).fetchone()[0]
    except sqlite3.Error:
        return 0


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(condition, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(what)


def test_worker_killed_mid_trial_is_retried_then_stored_as_failed(ray_local, tmp_path):
    """SIGKILL on the worker running a cell: retried from the store up to ``retries`` times, then
    the trial is stored as failed with the cause; the cell and the study go on to exact budgets."""
    space = tmp_path / "rf_slow.yaml"  # about a second per trial, so a kill lands mid-trial
    space.write_text("learner: random_forest\nsource: test\nparams:\n"
                     "  min_samples_leaf: {type: int, low: 1, high: 3}\n"
                     "fixed: {n_estimators: 500}\ndefault: {min_samples_leaf: 1}\n")
    ds = write_csv_dataset(tmp_path, n=300, groups=30)
    study = write_study(tmp_path, [ds.name], ["random_forest"], trials=4,
                        extra=f"spaces: {{random_forest: {space.name}}}\nresources: {{retries: 1}}\n")
    out, key = tmp_path / "run", "toy/fold0/random_forest"
    runner = threading.Thread(target=execute, args=(prepare(str(study)), out), daemon=True)
    runner.start()
    killed: list[int] = []

    def kill(pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    # 1. the moment trial 0 is stored, trial 1 has just started: kill its worker
    _wait(lambda: _count(out / "optuna.db", key) >= 1, 120, "trial 0 was not stored")
    kill(_wait(lambda: _worker_running(key), 30, "no worker runs the cell"))
    # 2. the retry resumes at trial 1 (from the store): kill it too, so trial 1 is lost twice
    kill(_wait(lambda: (p := _worker_running(key)) not in killed and p, 60, "no retry"))
    # 3. the cell goes on at trial 2: kill that once; its retry completes it
    kill(_wait(lambda: (p := _worker_running(key)) not in killed and p, 60, "no second retry"))
    runner.join(timeout=300)
    assert not runner.is_alive(), "the run did not finish"
    assert not any(_alive(p) for p in killed)

    trials, scores, manifest = results.load(out)
    assert manifest["status"] == "complete"
    assert_exact_budgets(trials, cells=2, budget=4)
    cell = trials[trials.outer_fold == 0].set_index("trial")
    assert cell.loc[1, "state"] == "FAIL"
    assert "failed 2 times" in cell.loc[1, "error"] and "WorkerCrashedError" in cell.loc[1, "error"]
    assert (cell.drop(index=1).state == "COMPLETE").all()  # trial 2 was lost once, then ran
    assert (trials[trials.outer_fold == 1].state == "COMPLETE").all()
    assert scores.error.isna().all() and set(scores.config) == {"default", "tuned"}


# ------------------------------------------------------------------ a worker node lost

NODE_LOSS_TRIALS, NODE_LOSS_FOLDS = 10, 3


def slow_forest_study(folder: Path, trials: int, folds: int, name: str) -> Path:
    """One learner whose trials take a few tenths of a second: a cell is never over at once."""
    space = folder / "rf_slow.yaml"
    space.write_text("learner: random_forest\nsource: test\nparams:\n"
                     "  min_samples_leaf: {type: int, low: 1, high: 3}\n"
                     "fixed: {n_estimators: 100}\ndefault: {min_samples_leaf: 1}\n")
    ds = write_csv_dataset(folder, n=300, groups=30)
    return write_study(folder, [ds.name], ["random_forest"], trials=trials, folds=folds,
                       name=name, extra=f"spaces: {{random_forest: {space.name}}}\n")


def node_lost(cluster, facts: dict) -> None:
    """Runs in the namespace: the worker node dies while it is in the middle of a cell."""
    study = slow_forest_study(cluster.folder, NODE_LOSS_TRIALS, NODE_LOSS_FOLDS, "nodeloss")
    out = cluster.folder / "run"
    cluster.start()
    facts["nodes"] = cluster.nodes
    job = cluster.submit(study, out, wait=False)
    worker = cluster.nodes["worker"]

    def cell_in_progress_on_worker():
        t = stored_trials(out / "optuna.db")
        assert len(t) < NODE_LOSS_FOLDS * NODE_LOSS_TRIALS, "the run ended before the node loss"
        on_worker = t[t.node_id == worker].groupby("study").size()
        busy = on_worker[on_worker <= NODE_LOSS_TRIALS - 3]  # at least 3 trials still to run
        return (t, busy.index[0]) if len(busy) else None

    deadline = time.time() + 180
    while not (found := cell_in_progress_on_worker()):
        assert time.time() < deadline, "the worker node never ran a cell"
        time.sleep(0.02)
    # The machine goes away: its raylet and every process under it (workers, agents) at once.
    # (Killing only the raylet is not a node loss: a running worker finishes its task first.)
    node = [cluster.worker_raylet, *_descendants(cluster.worker_raylet)]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in node:
            os.kill(pid, sig)
    before, facts["cell"] = found
    before.to_json(cluster.folder / "before.json")
    cluster.say(f"killed the worker node ({len(node)} processes) during {facts['cell']}, "
                f"{len(before)} trials stored")
    facts["status"] = cluster.wait_job(job)


def test_lost_worker_node_moves_its_cells_to_the_head(tmp_path):
    facts = run_in_namespace("test_faults", "node_lost", tmp_path, timeout=300)
    assert facts["status"] == "SUCCEEDED"
    trials, scores, manifest = results.load(tmp_path / "run")
    assert manifest["status"] == "complete"
    assert_exact_budgets(trials, cells=NODE_LOSS_FOLDS, budget=NODE_LOSS_TRIALS)
    assert scores.error.isna().all() and set(scores.config) == {"default", "tuned"}
    head, worker = facts["nodes"]["head"], facts["nodes"]["worker"]
    before = pd.read_json(tmp_path / "before.json")
    after = stored_trials(tmp_path / "run" / "optuna.db")
    new = after.merge(before[["study", "number"]], how="left", indicator=True)
    new = new[new._merge == "left_only"]
    assert len(before) < len(after) and (new.node_id == head).sum() >= 3
    assert (new.node_id == worker).sum() <= 1  # at most the trial it had just sent
    moved = after[after.study == facts["cell"]]  # the cell the node was running went on at the head
    assert set(moved.node_id) == {head, worker} and len(moved) == NODE_LOSS_TRIALS


# ------------------------------------------------------------------ the driver killed, job resubmitted

DRIVER_TRIALS, DRIVER_FOLDS = 10, 3


def driver_killed(cluster, facts: dict) -> None:
    """Runs in the namespace: SIGKILL the job's driver mid-run, then submit the job again."""
    study = slow_forest_study(cluster.folder, DRIVER_TRIALS, DRIVER_FOLDS, "resubmit")
    out = cluster.folder / "run"
    cluster.start()
    job = cluster.submit(study, out, wait=False)
    pid = cluster.driver_pid(job)
    deadline = time.time() + 180
    while len(stored_trials(out / "optuna.db")) < 5:
        assert time.time() < deadline, "no trials were stored"
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    cluster.say(f"killed the driver (pid {pid})")
    facts["first_status"] = cluster.wait_job(job)
    stored_trials(out / "optuna.db").to_json(cluster.folder / "before.json")
    done = cluster.submit(study, out)  # the same command again
    facts["second_rc"] = done.returncode
    facts["second_output"] = (done.stdout + done.stderr)[-3000:]


def test_killed_driver_resubmitted_resumes_without_rerunning(tmp_path):
    facts = run_in_namespace("test_faults", "driver_killed", tmp_path, timeout=300)
    assert facts["first_status"] == "FAILED"
    assert facts["second_rc"] == 0, facts["second_output"]
    before = pd.read_json(tmp_path / "before.json")
    after = stored_trials(tmp_path / "run" / "optuna.db")
    assert 0 < len(before) < DRIVER_FOLDS * DRIVER_TRIALS
    kept = before.merge(after, on=["study", "number"], suffixes=("_before", "_after"))
    assert len(kept) == len(before)  # nothing stored was lost ...
    assert (pd.to_datetime(kept.start_before) == pd.to_datetime(kept.start_after)).all()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["trials_repeated"] == 0  # no stored trial ran again (it would arrive again)
    trials = pd.read_parquet(tmp_path / "run" / "trials.parquet")
    assert_exact_budgets(trials, cells=DRIVER_FOLDS, budget=DRIVER_TRIALS)
    assert set(trials.state) <= {"COMPLETE", "FAIL"}


# ------------------------------------------------------------------ the store never holds a trial twice

def test_store_writes_what_optuna_add_trial_writes_and_never_twice(tmp_path):
    """The driver's batched insert stores, row for row, what ``Study.add_trial`` stores; a trial
    sent again (e.g. by a retried task) is not stored a second time."""
    import optuna

    from benchmark.records import Cell, TrialEvent, Where
    from benchmark.store import Store

    cell = Cell("toy", 0, "logreg")
    dists = {"C": optuna.distributions.FloatDistribution(1e-4, 1e4, log=True),
             "class_weight": optuna.distributions.CategoricalDistribution([None, "balanced"])}

    def event(number, state="COMPLETE"):
        params = {"C": 10.0 ** (number - 2), "class_weight": "balanced" if number % 2 else None}
        trial = TrialEvent(state, 0.5 + number / 100 if state == "COMPLETE" else None,
                           {**params, "max_iter": 100}, 0.1 * number,
                           None if state == "COMPLETE" else "ValueError: x",
                           {"inner_scores": [0.5], "split_sha256": "ab"}, cell=cell,
                           number=number, params=params, distributions=dists,
                           where=Where("n", "h", 7))
        return trial

    events = [event(i, "FAIL" if i == 3 else "COMPLETE") for i in range(6)]
    bulk, plain = Store(f"sqlite:///{tmp_path}/bulk.db"), Store(f"sqlite:///{tmp_path}/plain.db")
    plain._bulk = False  # Optuna's own add_trial
    for store in (bulk, plain):
        store.record(events[:4], lambda c: "maximize")
        store.record(events[2:], lambda c: "maximize")  # 2 and 3 again: skipped
        assert store.repeated == 2  # and counted (a run's manifest reports it)
    got = {name: Store(f"sqlite:///{tmp_path}/{name}.db").study(cell, "maximize").get_trials()
           for name in ("bulk", "plain")}
    assert [t.number for t in got["bulk"]] == list(range(6))
    for a, b in zip(got["bulk"], got["plain"], strict=True):
        for field in ("number", "state", "value", "params", "distributions", "user_attrs",
                      "system_attrs", "intermediate_values"):
            assert getattr(a, field) == getattr(b, field), field
        assert a.datetime_start is not None and a.datetime_complete is not None


def test_the_database_refuses_a_second_row_for_a_trial_number(tmp_path):
    """Two writers of one store (two drivers, whatever kept them apart failed): the unique index
    refuses the second row for a (cell, trial number), in the database itself. A raw insert
    fails; a store whose count of the cell's trials went stale stops with one message, and the
    store keeps one row per number."""
    import optuna
    import pytest

    from benchmark.errors import ConfigError
    from benchmark.records import Cell, TrialEvent
    from benchmark.store import Store

    cell, url = Cell("toy", 0, "naive_bayes"), f"sqlite:///{tmp_path}/optuna.db"
    dist = {"var_smoothing": optuna.distributions.FloatDistribution(1e-12, 1e-2, log=True)}

    def event(number: int) -> TrialEvent:
        return TrialEvent("COMPLETE", 0.5, {}, 0.1, cell=cell, number=number,
                          params={"var_smoothing": 1e-9}, distributions=dist)

    first, second = Store(url), Store(url)
    first.record([event(0)], lambda c: "maximize")
    second.record([event(1)], lambda c: "maximize")  # counts 1 stored: stores number 1
    with sqlite3.connect(tmp_path / "optuna.db") as con:
        study_id = con.execute("select study_id from trials limit 1").fetchone()[0]
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("insert into trials (number, study_id, state) values (1, ?, 'COMPLETE')",
                        (study_id,))
    # ``first`` still believes one trial is stored: its next one would be number 1 again
    with pytest.raises(ConfigError, match="one driver at a time writes a store"):
        first.record([event(1)], lambda c: "maximize")
    rows = stored_trials(tmp_path / "optuna.db")
    assert sorted(rows.number) == [0, 1]
