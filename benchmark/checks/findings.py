"""One shape for everything a check concludes, so the report can list them side by side.

A finding has a level: ``problem`` (the scores may be inflated or wrong: leakage, confounding),
``warning`` (read the scores with care: a batch effect, too little data, a large grouped/random
gap) or ``ok`` (checked, nothing found). ``info`` records a check that could not run and why.
"""
from __future__ import annotations

LEVELS = ("problem", "warning", "ok", "info")


def finding(check: str, level: str, title: str, detail: str = "", **numbers) -> dict:
    """A JSON-ready finding; ``numbers`` are the figures behind it (for tests and tables)."""
    assert level in LEVELS, level
    return {"check": check, "level": level, "title": title, "detail": detail,
            "numbers": {k: _plain(v) for k, v in numbers.items()}}


def _plain(value):
    """numpy scalars and arrays to JSON types."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def flagged(findings: list[dict], levels=("problem", "warning")) -> list[dict]:
    return [f for f in findings if f["level"] in levels]
