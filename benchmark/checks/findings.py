"""One shape for everything a check concludes, so the report can list them side by side.

A finding has a level: ``problem`` (the scores may be inflated or wrong: leakage, confounding),
``warning`` (read the scores with care: a batch effect, too little data, a large grouped/random
gap) or ``ok`` (checked, nothing found). ``info`` records a check that could not run, or could
not conclude, and why.

Each finding's ``check`` key is one of CHECKS and appears once per dataset: the report anchors the
finding at ``check-<dataset>-<check>`` and the verdict links there. Its ``title`` is a short
plain clause, without a final full stop, that a sentence can quote; it is chosen from the
finding's own numbers.
"""
from __future__ import annotations

LEVELS = ("problem", "warning", "ok", "info")
CHECKS = {  # key -> what it asks; the keys are stable (anchors, links, tests depend on them)
    "controls": "do learners beat chance on shuffled labels?",
    "duplicates": "are identical examples in train and test?",
    "groups": "is a group on both sides of a split?",
    "proxy": "does one feature predict the label on its own?",
    "metadata": "does a metadata column predict the label?",
    "missingness": "does the pattern of missing values predict the label or group?",
    "batch": "do the features carry the batch?",
    "confounding": "is the label confounded with the batch?",
    "split_gap": "would a random split have reported higher scores?",
    "size": "are there enough examples per class?",
    "metric": "does the primary metric survive class imbalance?",
}
PROBLEM_CHECKS = ("controls", "duplicates", "groups", "proxy", "missingness", "confounding")


def finding(check: str, level: str, title: str, detail: str = "", **numbers) -> dict:
    """A JSON-ready finding; ``numbers`` are the figures behind it (for tests and tables)."""
    assert check in CHECKS, f"check must be one of {sorted(CHECKS)}, not {check!r}"
    assert level in LEVELS, f"level must be one of {LEVELS}, not {level!r}"
    assert level != "problem" or check in PROBLEM_CHECKS, f"{check!r} cannot be a problem"
    assert title and not title.endswith("."), f"a title is a clause without a full stop: {title!r}"
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
