"""The leaderboard across runs: one offline page over every dataset of every run given.

``build(run_dirs, out)`` reads finished run folders (never refits), refuses runs that disagree
on a dataset's content, split plan or primary metric, keeps one run per dataset, and writes
``out/index.html`` and ``out/leaderboard.parquet`` (the long table it ranked from). Per dataset
it states the run report's own verdict; across datasets it ranks learners by average rank (with
the critical-difference diagram), win rates and Elo with bootstrap intervals, over all datasets
and per modality. Statistics come from :mod:`benchmark.stats`, figures from the run report's
code where it has them.
"""
from __future__ import annotations

from .build import build

__all__ = ["build"]
