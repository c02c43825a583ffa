"""Sensitive data (Tip 10): a model trained on patients can give those patients away.

For a dataset marked ``sensitive: true`` the run writes no model and no per-example output: the
workers send no test predictions (``checks.in_cell``), so neither ``optuna.db`` nor
``predictions.parquet`` holds any, and the checks keep the refits they need in memory. Some
learners memorise training rows outright; the report names them so nobody ships such a model.
``scan`` is the proof: it looks for given feature values, as text and as raw bytes, in every file
of a run folder and in every text cell of its SQLite store.
"""
from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

# Learners whose fitted models contain training examples verbatim.
STORES_EXAMPLES = {
    "knn": "k-nearest neighbours keeps every training example",
    "svm": "the SVM keeps its support vectors, which are training examples",
}


def notice(sensitive: list[str], learners: list[str]) -> dict | None:
    """What the report says when any dataset is sensitive."""
    if not sensitive:
        return None
    keep = [STORES_EXAMPLES[n] for n in learners if n in STORES_EXAMPLES]
    return {"datasets": sensitive, "memorising": keep,
            "text": "No model weights and no per-example predictions were written for these "
                    "datasets; checks that need predictions refit in memory. "
                    + ("Fitted models of some learners contain training examples: "
                       + "; ".join(keep) + ". Do not share such models." if keep else "")}


def needles(values) -> list[bytes]:
    """Ways a float64 value can be written down: its repr, 6 decimals (how predictions are
    rounded), and its 8 bytes either way round (parquet, numpy, SQLite REAL). Shorter forms
    (float32, 6 significant digits) would match random bytes of a large file by chance."""
    out = []
    for v in values:
        v = float(v)
        out += [repr(v).encode(), f"{v:.6f}".encode(), struct.pack("<d", v), struct.pack(">d", v)]
    return out


def scan(run_dir: Path, values) -> list[str]:
    """Where in ``run_dir`` any of ``values`` appears: ``file`` or ``file:table.column``."""
    wanted, floats = needles(values), {float(v) for v in values}
    hits = []
    for path in sorted(Path(run_dir).rglob("*")):
        if not path.is_file():
            continue
        blob = path.read_bytes()
        if any(w in blob for w in wanted):
            hits.append(str(path.relative_to(run_dir)))
        if blob[:16] == b"SQLite format 3\x00":
            hits += [f"{path.name}:{h}" for h in _scan_sqlite(path, wanted, floats)]
    return hits


def _scan_sqlite(path: Path, wanted: list[bytes], floats: set[float]) -> list[str]:
    """Every cell of every table, read through SQLite (not only the raw pages)."""
    hits = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            cur = con.execute(f'select * from "{table}"')
            names = [d[0] for d in cur.description]
            for row in cur:
                for name, cell in zip(names, row):
                    if isinstance(cell, float) and cell in floats:
                        hits.append(f"{table}.{name}")
                    data = cell.encode() if isinstance(cell, str) else cell
                    if isinstance(data, bytes) and any(w in data for w in wanted):
                        hits.append(f"{table}.{name}")
    finally:
        con.close()
    return sorted(set(hits))
