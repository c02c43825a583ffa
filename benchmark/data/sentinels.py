"""Values in a numeric column that look like stand-ins for "missing" or "unknown".

Clinical tables often write an absent measurement as a number: ``ca = 9`` where the rest is 0-3,
cholesterol or blood pressure 0, a mean filled into hundreds of rows. Learners then treat the code
as a measurement. No rule can tell a code from a real value for certain, so each rule here is
narrow (few false alarms on real data) and only ever warns:

- code: 9, 99, 999, 9999 (or their negatives) outside the range of the column's other values;
- zero: 0 in a column whose other values share one sign, set apart from them by a step several
  times those between the smallest of them, where the others keep away from zero (smallest
  magnitude at least a quarter of their median: blood pressure) or 0 is common (5% of rows:
  insulin 0 in half the rows). Zeros of graded scores (0-3) or of log-counts are not flagged,
  nor a few true zeros among small values (a nucleus without concavity);
- spike: one value repeated at least ten times as often as any of its neighbouring values, in a
  column with many distinct values.

A value found in more than half the rows is the column's norm, not a stand-in, and is never flagged.
Only columns that look written down (at most two decimals) are checked: a computed column
(log-expression, morphometry) has no codes, and its zeros are values like any other.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api import types

CODES = (9, 99, 999, 9999, -9, -99, -999, -9999)
MIN_VALUES = 20  # fewer values say too little about what is normal for a column
MIN_OTHERS = 10
MARGIN = 0.1  # a code lies outside the others' range by at least this share of their span
FAR_FROM_ZERO = 0.25  # smallest |other| / median |other| from which the others keep away from 0
COMMON = 0.05  # ... or a share of rows from which a 0 is common
ISOLATED = 5  # the step from 0 to the others, in units of the steps between the smallest others
RECORDED = 0.9  # share of distinct values with at most two decimals (see ``recorded``)
SPIKE = 10  # times the most frequent neighbouring value
MIN_SPIKE = 10  # rows
NEIGHBOURS = 3  # distinct values on each side
SPIKE_DISTINCT = 20  # distinct values a column needs before a spike means anything


def numeric_columns(frame: pd.DataFrame, columns: list) -> list:
    """The numeric, non-boolean columns among ``columns`` (booleans and categories hold no codes)."""
    return [c for c in columns
            if types.is_numeric_dtype(frame[c]) and not types.is_bool_dtype(frame[c])]


def table_findings(frame: pd.DataFrame, columns: list) -> list[dict]:
    """The findings of every numeric column, read as one float block (wide tables stay fast)."""
    columns = numeric_columns(frame, columns)
    if not columns:
        return []
    block = np.asfortranarray(frame[columns].to_numpy(dtype=np.float64, na_value=np.nan))
    return [f for j, c in enumerate(columns) for f in sentinel_findings(str(c), block[:, j])]


def sentinel_findings(column: str, values: np.ndarray | pd.Series) -> list[dict]:
    """Each suspicious value of one numeric column: column, value, count, rule, the others'
    range, and a sentence."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < MIN_VALUES:
        return []
    uniq, counts = np.unique(values, return_counts=True)
    if not recorded(uniq):
        return []
    found = {}
    for value, count, rule in _codes(values, uniq, counts) + _zero(values, uniq, counts) + \
            _spikes(uniq, counts, len(values)):
        found.setdefault(value, _finding(column, value, count, rule, values))
    return list(found.values())


def recorded(uniq: np.ndarray) -> bool:
    """Whether a column looks written down (a clinical form) rather than computed (log-expression,
    image morphometry): at least 90% of its distinct values have at most two decimals. Codes for
    "missing" live in written-down columns; a computed column's 0 is a value like any other."""
    scaled = uniq * 100
    plain = np.isclose(scaled, np.round(scaled), rtol=1e-9, atol=1e-6)
    return bool(plain.mean() >= RECORDED)


def _finding(column: str, value: float, count: int, rule: str, values: np.ndarray) -> dict:
    others = values[values != value]
    lo, hi = float(others.min()), float(others.max())
    shown = f"{value:g}"
    rows = f"{count} row{'s' if count != 1 else ''}"
    why = {"code": f"outside the range of the others, {lo:g} to {hi:g} (a code for unknown?)",
           "zero": f"while the others lie from {lo:g} to {hi:g} (a missing measurement written "
                   "as 0?)",
           "spike": f"over {SPIKE} times as often as any neighbouring value (a filled-in default "
                    "or mean?)"}[rule]
    return {"column": column, "value": float(value), "count": int(count), "rule": rule,
            "others": [lo, hi], "text": f"{column!r} = {shown} in {rows}, {why}"}


def _mostly(count: int, n: int) -> bool:
    return count > n / 2


def _codes(values, uniq, counts) -> list[tuple]:
    out = []
    for code in CODES:
        at = np.searchsorted(uniq, code)
        if at == len(uniq) or uniq[at] != code or _mostly(counts[at], len(values)):
            continue
        others = values[values != code]
        if len(others) < MIN_OTHERS:
            continue
        lo, hi = others.min(), others.max()
        margin = MARGIN * (hi - lo)
        if code > hi + margin or code < lo - margin:
            out.append((float(code), int(counts[at]), "code"))
    return out


def _zero(values, uniq, counts) -> list[tuple]:
    at = np.searchsorted(uniq, 0.0)
    if at == len(uniq) or uniq[at] != 0.0 or _mostly(counts[at], len(values)):
        return []
    if len(values) - counts[at] < MIN_OTHERS or (uniq[0] < 0 < uniq[-1]):
        return []
    # the others' magnitudes, smallest first, with their counts (all share one sign)
    sizes, times = (uniq[at + 1:], counts[at + 1:]) if uniq[-1] > 0 else \
        (-uniq[:at][::-1], counts[:at][::-1])
    middle = sizes[np.searchsorted(np.cumsum(times), times.sum() / 2)]
    far = sizes[0] >= FAR_FROM_ZERO * middle
    common = counts[at] >= COMMON * len(values)
    if (far or common) and _isolated(sizes):
        return [(0.0, int(counts[at]), "zero")]
    return []


def _isolated(sizes: np.ndarray) -> bool:
    """Whether 0 stands apart: the step from 0 to the smallest other magnitude is several times
    the steps between the next ones (graded scores 0-3 or log-counts 0, 1, 1.58 ... are not)."""
    if len(sizes) < 3:
        return False
    steps = np.diff(sizes[:NEIGHBOURS + 3])
    return bool(sizes[0] >= ISOLATED * np.median(steps))


def _spikes(uniq, counts, n: int) -> list[tuple]:
    if len(uniq) < SPIKE_DISTINCT:
        return []
    padded = np.concatenate([np.zeros(NEIGHBOURS, int), counts, np.zeros(NEIGHBOURS, int)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * NEIGHBOURS + 1)
    neighbours = np.delete(windows, NEIGHBOURS, axis=1).max(axis=1)
    hit = (counts >= MIN_SPIKE) & (counts >= SPIKE * neighbours) & (counts <= n / 2) & (uniq != 0)
    return [(float(uniq[i]), int(counts[i]), "spike") for i in np.flatnonzero(hit)]
