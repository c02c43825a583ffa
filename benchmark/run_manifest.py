"""The run folder's record and ownership.

The manifest (Tip 3) records config, seeds, versions, commit, hardware and what the run was made
from: each dataset's content hash and each split plan's hash, so that a resume on other data is
refused. ``FolderLock`` keeps a second driver out of a folder while one runs.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

from . import paths, run_folder
from .errors import ConfigError, Problem

MANIFEST = run_folder.MANIFEST
LOCK = run_folder.LOCK

PACKAGES = ["benchmark", "optuna", "ray", "scikit-learn", "xgboost", "torch", "numpy", "pandas",
            "scipy", "pyarrow", "plotly"]


def versions() -> dict[str, str | None]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    try:
        res = subprocess.run(["git", "-C", str(paths.ROOT), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "-C", str(paths.ROOT), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (res.stdout.strip() + ("+dirty" if dirty else "")) if res.returncode == 0 else None


def hardware() -> dict:
    info = {"machine": platform.machine(), "system": platform.platform(), "cpus": os.cpu_count()}
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


def config_hash(config: dict) -> str:
    """Hash of what decides the numbers (not the description), to refuse resuming another study."""
    keep = {k: config[k] for k in ("datasets", "learners", "seed", "metric", "budget", "splits")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def dataset_digest(ds) -> str:
    """sha256 of what the learners and checks see of a dataset: target, groups, every view,
    metadata, names. It changes with the data whatever changed it (the file, a generator, the
    dataset YAML's target or drop list), unlike the source file's checksum."""
    h = hashlib.sha256()
    names = {"task": ds.task, "classes": ds.classes, "features": list(ds.feature_names),
             "categorical": list(ds.categorical)}
    h.update(json.dumps(names, sort_keys=True, default=str).encode())
    parts = {"y": ds.y, "groups": ds.groups, **{f"view:{k}": v for k, v in ds.views.items()},
             **{f"meta:{k}": v for k, v in ds.metadata.items()}}
    for key in sorted(parts):
        h.update(f"|{key}|".encode())
        if parts[key] is not None:
            h.update(_array_bytes(np.asarray(parts[key])))
    return h.hexdigest()


def _array_bytes(a: np.ndarray) -> bytes:
    head = f"{a.dtype.str}{a.shape}".encode()
    if a.dtype.kind == "O":  # strings and mixed values: their text, not their pointers
        return head + "\0".join(map(str, a.ravel().tolist())).encode()
    return head + np.ascontiguousarray(a).tobytes()


def read(run_dir: Path) -> dict | None:
    """The folder's manifest, None if it has none; a damaged one is a ConfigError."""
    path = Path(run_dir) / MANIFEST
    try:
        return json.loads(path.read_text()) if path.exists() else None
    except (OSError, ValueError) as exc:
        raise ConfigError([Problem(str(path), "a run folder's manifest must be readable JSON",
                                   f"{type(exc).__name__}: {exc}", "restore it from a copy, or "
                                   "start over with a new --out")]) from None


def writable_problems(run_dir: Path, files: list[Path]) -> list[Problem]:
    """The run folder (or the folder it will be made in) and its files must be writable: a run
    stores every trial as it finishes, so a read-only folder is refused before any compute."""
    run_dir = Path(run_dir)
    folder = run_dir
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    paths_ = [folder, *(f for f in files if f.exists())]
    if folder == run_dir and (run_dir / run_folder.SPLITS).exists():
        paths_.append(run_dir / run_folder.SPLITS)
    bad = [p for p in paths_ if not os.access(p, os.W_OK | (os.X_OK if p.is_dir() else 0))]
    if not bad:
        return []
    more = f", as are {len(bad) - 1} more paths in it" if bad[1:] else ""
    return [Problem(str(bad[0]), "a run folder must be writable (every trial is stored there as "
                    "it finishes)", f"read-only{more}", f"make it writable (chmod -R u+w "
                    f"{run_dir}, or remount it read-write), or pass --out a writable folder")]


class FolderLock:
    """One driver per run folder: an exclusive ``flock`` on ``run.lock``, held for the driver's
    lifetime.

    The kernel drops the lock when the process ends, however it ends (SIGKILL, a crash), so a
    folder is never left locked. The file keeps what its driver recorded (``note``): pid, host,
    the embedded Ray's temp folder; ``previous`` is what the last driver recorded, so a driver
    can clean up after one that was killed.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK
        self.previous: dict = {}
        self._record: dict = {}
        self._fd: int | None = None

    def __enter__(self) -> "FolderLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise ConfigError(writable_problems(self.path.parent, []) or [Problem(
                str(self.path), "a run folder must be writable", str(exc),
                "pass --out a writable folder")]) from None
        try:
            if not _lock_exclusive(fd, self.path):
                raise ConfigError([held(self.path, _read_record(self.path))])
        except ConfigError:
            os.close(fd)
            raise
        self._fd = fd
        self.previous = _read_record(self.path)
        return self

    def note(self, **fields) -> None:
        """Record facts about this driver in the lock file (pid, host, Ray's temp folder)."""
        self._record.update(fields)
        data = json.dumps(self._record).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def _lock_exclusive(fd: int, path: Path, tries: int = 20) -> bool:
    """The exclusive lock, tried for about a second: another driver's ``holder`` probe holds a
    shared lock for an instant, and must not be taken for a driver."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < tries:
                time.sleep(0.05)
        except OSError as exc:  # e.g. ENOLCK: a network filesystem without a lock service
            raise ConfigError([Problem(str(path), "a run folder must be on a filesystem with "
                                       "file locks (one driver at a time)", str(exc),
                                       "pass --out a local folder, or enable locking on the "
                                       "mount")]) from None
    return False


def holder(run_dir: Path) -> dict | None:
    """What the driver holding the folder's lock recorded, or None when no driver holds it.

    Reads only: a shared lock, tried and dropped at once, fails while a driver holds it."""
    path = Path(run_dir) / LOCK
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_record(path) or {"pid": "?"}
    except OSError:  # no locks here: taking the lock says so, with its fix
        return None
    finally:
        os.close(fd)
    return None


def held(path: Path, record: dict) -> Problem:
    who = ", ".join(f"{k} {record[k]}" for k in ("pid", "host", "started") if record.get(k))
    return Problem(str(path), "one driver at a time runs a run folder, and another one is "
                   "running it", f"driver {who}" if who else "another driver",
                   "wait for it to finish (or stop it) and run again to resume, or pass a new "
                   "--out to run separately")


def _read_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def driver_facts() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": now()}


def write(path: Path, manifest: dict) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    tmp.replace(path)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
