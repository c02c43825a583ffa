"""A run folder owns its inputs, with real processes and real files: a resume on other data, a
second driver, a killed driver's leftovers, an unreachable cluster, a damaged store, a read-only
folder. Each refusal is one message and exit code 2, before any compute, and it writes nothing.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from benchmark.ray_session import clean_leftovers, processes_using
from helpers import (ROOT, cli, kill_session, snapshot, start_run, stored_trials, wait_until,
                     write_csv_dataset, write_study)

KEEP = {**os.environ, "BENCHMARK_KEEP_RAY_SESSION": "1"}


def _refused(res: subprocess.CompletedProcess) -> str:
    """The message of a refused run: exit 2, one problem, no traceback, no progress."""
    assert res.returncode == 2, res.stdout + res.stderr
    assert "1 problem found before any compute started" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == "", res.stdout + res.stderr
    return res.stderr


def _files(out: Path) -> dict:
    """``snapshot`` less SQLite's shared-memory index (optuna.db-shm), which every reader of a
    store in write-ahead-log mode updates: the files that hold the run."""
    return {k: v for k, v in snapshot(out).items() if not k.endswith("-shm")}


def _lock(out: Path) -> dict:
    return json.loads((out / "run.lock").read_text())


# ------------------------------------------------------------------ a finished run, copied

@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished tiny run (its study, data and run folder in one folder), made by a real driver
    asked to keep its Ray session folder."""
    folder = tmp_path_factory.mktemp("finished")
    ds = write_csv_dataset(folder)
    write_study(folder, [ds.name], ["naive_bayes"], trials=1, extra="checks: {enabled: false}\n")
    res = cli("run", str(folder / "tiny.yaml"), "--out", str(folder / "run"), "--no-report",
              env=KEEP, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    yield folder
    shutil.rmtree(_lock(folder / "run")["ray_temp_dir"], ignore_errors=True)


def _copy(finished: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the finished run with its study and data: (study file, run folder)."""
    shutil.copytree(finished, tmp_path / "copy")
    return tmp_path / "copy" / "tiny.yaml", tmp_path / "copy" / "run"


def test_the_ray_session_folder_is_kept_when_asked(finished):
    """BENCHMARK_KEEP_RAY_SESSION keeps the embedded Ray's folder (its logs); no process of that
    session outlives the run either way."""
    record = _lock(finished / "run")
    kept = Path(record["ray_temp_dir"])
    assert record.get("ended") and kept.is_dir() and list(kept.glob("session_*/logs/*"))
    assert processes_using(str(kept)) == []


@pytest.mark.parametrize("change", ["flipped labels", "fewer rows"])
def test_a_resume_on_other_data_is_refused_and_nothing_is_rewritten(finished, tmp_path, change):
    study, out = _copy(finished, tmp_path)
    csv = study.parent / "toy.csv"
    frame = pd.read_csv(csv)
    if change == "flipped labels":
        flip = frame.index[:30]
        frame.loc[flip, "label"] = frame.loc[flip, "label"].map({"tumor": "normal",
                                                                 "normal": "tumor"})
    else:
        frame = frame.iloc[:60]
    frame.to_csv(csv, index=False)
    recorded = json.loads((out / "manifest.json").read_text())["datasets"]["toy"]
    before = snapshot(out)
    err = _refused(cli("run", str(study), "--out", str(out), "--no-report", timeout=120))
    assert "dataset toy" in err and f"was {recorded['content_sha256']}, now " in err, err
    assert re.search(r"now [0-9a-f]{64}", err) and "--out" in err and "restore the data" in err
    assert snapshot(out) == before


@pytest.mark.parametrize("damage", ["cut in half", "empty", "missing"])
def test_a_damaged_store_is_refused_touching_nothing(finished, tmp_path, damage):
    """A store cut in half is named with SQLite's verdict; an empty or missing one in a folder
    whose manifest records trials is refused, never recomputed into."""
    study, out = _copy(finished, tmp_path)
    db = out / "optuna.db"
    if damage == "missing":
        db.unlink()
    else:
        os.truncate(db, db.stat().st_size // 2 if damage == "cut in half" else 0)
    before = snapshot(out)
    err = _refused(cli("run", str(study), "--out", str(out), "--no-report", timeout=120))
    assert str(db) in err and "new --out" in err, err
    if damage == "cut in half":
        assert "malformed" in err, err
    else:
        assert "records (2 trials)" in err and damage.split()[0] in err, err
    assert snapshot(out) == before


def _read_only(command: list[str], folder: Path) -> list[str]:
    """``command`` run where ``folder`` cannot be written: chmod for a user; for root (whom
    permissions do not stop) a read-only bind mount in a mount namespace of its own."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return command
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root without mount namespaces: {probe.stderr.decode()[:200]}")
    script = (f'mount --bind "{folder}" "{folder}" && '
              f'mount -o remount,bind,ro "{folder}" && exec "$@"')
    return ["unshare", "-m", "sh", "-c", script, "sh", *command]


def test_a_read_only_folder_is_refused_before_compute(finished, tmp_path):
    study, out = _copy(finished, tmp_path)
    before = snapshot(out)
    command = _read_only([sys.executable, "-m", "benchmark", "run", str(study), "--out", str(out),
                          "--no-report"], out)
    try:
        res = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=120)
    finally:
        for path in [out, *out.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    err = _refused(res)
    assert str(out) in err and "must be writable" in err, err
    assert snapshot(out) == before


@pytest.mark.parametrize("how", ["--address", "RAY_ADDRESS"])
def test_an_unreachable_cluster_is_refused_before_the_folder_is_written(tmp_path, how):
    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["naive_bayes"], trials=1)
    out = tmp_path / "run"
    args = ["--address", "127.0.0.1:1"] if how == "--address" else []
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:1"} if how == "RAY_ADDRESS" else None
    err = _refused(cli("run", str(study), "--out", str(out), *args, env=env, timeout=120))
    assert "127.0.0.1:1" in err and "Ray cluster" in err, err
    assert not out.exists()


# ------------------------------------------------------------------ one folder, several drivers

def test_the_folder_lock_is_held_for_a_driver_lifetime_and_freed_by_its_death(tmp_path):
    """The lock of a live process refuses another driver, naming it; SIGKILL frees it (the
    kernel drops it), and the next driver reads what the dead one recorded."""
    from benchmark.errors import ConfigError
    from benchmark.run_manifest import FolderLock, holder

    out = tmp_path / "run"
    code = ("import sys, time\nfrom benchmark.run_manifest import FolderLock, driver_facts\n"
            "with FolderLock(sys.argv[1]) as lock:\n"
            "    lock.note(**driver_facts()); print('held', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert holder(out)["pid"] == proc.pid
        with pytest.raises(ConfigError, match=f"another one is running it .*pid {proc.pid}"):
            with FolderLock(out):
                pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert holder(out) is None
        with FolderLock(out) as lock:
            assert lock.previous["pid"] == proc.pid and not lock.previous.get("ended")
    finally:
        proc.kill()
        proc.wait()


def _study(folder: Path) -> Path:
    ds = write_csv_dataset(folder, n=300, groups=30)
    return write_study(folder, [ds.name], ["random_forest"], trials=3,
                       extra="checks: {enabled: false}\n")


def _flip_labels(csv: Path, rows: int) -> None:
    frame = pd.read_csv(csv)
    frame.loc[:rows - 1, "label"] = frame.loc[:rows - 1, "label"].map(
        {"tumor": "normal", "normal": "tumor"})
    frame.to_csv(csv, index=False)


def test_second_driver_killed_driver_and_changed_data(tmp_path):
    """The scenario of a crashed cluster job, with real drivers:

    1. while driver A runs (stopped mid-run, so that it is still running whatever the
       machine's speed), a second driver of the same folder is refused (exit 2), and computes
       nothing;
    2. A is killed with SIGKILL; its embedded Ray's folder and orphaned processes stay behind;
    3. a rerun on data with 200 labels flipped is refused, naming the hashes, and touches
       nothing (not even A's leftovers: Ray's agents outlive their driver by minutes);
    4. the rerun on the original data cleans what A left, and only that (a process writing to a
       folder whose name extends A's is left alone), then finishes every cell to its budget,
       with no trial stored twice, and leaves no Ray folder of its own.
    """
    study = _study(tmp_path)
    out, csv = tmp_path / "run", tmp_path / "toy.csv"
    original = csv.read_bytes()
    first = start_run(study, out)
    decoy, ray_dir = None, "none"
    try:
        wait_until(lambda: len(stored_trials(out / "optuna.db")) >= 1, 240, "a stored trial")
        os.kill(first.pid, signal.SIGSTOP)  # mid-run, holding the folder, as long as needed
        assert first.poll() is None, "the first driver finished before it could be stopped"
        ray_dir = _lock(out)["ray_temp_dir"]
        # 1. a second driver
        err = _refused(cli("run", str(study), "--out", str(out), "--no-report", timeout=120))
        assert "another one is running it" in err and f"pid {first.pid}" in err, err
        # 2. SIGKILL on the driver alone
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        left = processes_using(ray_dir)
        Path(f"{ray_dir}-other").mkdir()
        decoy = subprocess.Popen([sys.executable, "-c", "import sys, time; f = open(sys.argv[1], "
                                  "'w'); time.sleep(600)", f"{ray_dir}-other/log"])
        wait_until(lambda: processes_using(f"{ray_dir}-other"), 30, "the decoy's open file")
        # 3. other data
        _flip_labels(csv, 200)
        before = _files(out)
        err = _refused(cli("run", str(study), "--out", str(out), "--no-report", timeout=120))
        assert "dataset toy" in err and re.search(r"was [0-9a-f]{64}, now [0-9a-f]{64}", err), err
        assert _files(out) == before and Path(ray_dir).is_dir()
        assert set(processes_using(ray_dir)) <= set(left)  # (workers exit by themselves)
        # 4. the original data again
        csv.write_bytes(original)
        done = cli("run", str(study), "--out", str(out), "--no-report", timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert processes_using(ray_dir) == [] and not Path(ray_dir).exists()
        assert decoy.poll() is None, "a process that was not the killed run's was stopped"
        record = _lock(out)
        assert record.get("ended") and not Path(record["ray_temp_dir"]).exists()
        trials = stored_trials(out / "optuna.db")
        counts = trials.groupby("study").number.agg(["count", "nunique"])
        assert len(counts) == 2 and (counts["count"] == 3).all() and (counts["nunique"] == 3).all()
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["trials_stored"] == 6
    finally:  # what is left after a failure: A's processes and folder, the decoy
        kill_session(first)
        if ray_dir != "none":
            clean_leftovers(ray_dir)
        if decoy is not None:
            decoy.kill()
            decoy.wait()
        shutil.rmtree(f"{ray_dir}-other", ignore_errors=True)
