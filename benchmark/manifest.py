"""The reproducibility manifest (Tip 3): config, seeds, versions, commit, hardware, checksums."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import paths

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


def write(path: Path, manifest: dict) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str))
    tmp.replace(path)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
