"""``python -m benchmark leaderboard RUN_DIR... [--out DIR] [--use DATASET=RUN_DIR]``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, Problem

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmark leaderboard",
                                description="One offline page ranking learners over every dataset of "
                                            "the run folders given.")
    p.add_argument("runs", nargs="+", type=Path, help="finished run folders (python -m benchmark run)")
    p.add_argument("--out", type=Path, help="folder for index.html and leaderboard.parquet "
                   "(default: reports/leaderboard)")
    p.add_argument("--use", action="append", default=[], metavar="DATASET=RUN_DIR",
                   help="take DATASET from RUN_DIR when several runs hold it (default: the later run)")
    return p


def _uses(items: list[str]) -> dict[str, str]:
    problems, out = [], {}
    for item in items:
        dataset, sep, run = item.partition("=")
        if not sep or not dataset or not run:
            problems.append(Problem(f"--use {item}", "must be DATASET=RUN_DIR", item,
                                    "e.g. --use breastmnist=reports/bio"))
        else:
            out[dataset] = run
    if problems:
        raise ConfigError(problems)
    return out


def main(argv: list[str]) -> int:
    from .. import paths
    from .build import build

    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse printed usage or help
        return int(exc.code or 0)
    try:
        path = build(args.runs, args.out or paths.REPORTS / "leaderboard", _uses(args.use))
    except ConfigError as exc:
        print(exc.render().replace("before any compute started", "in the run folders"), file=sys.stderr)
        return EXIT_USAGE
    print(f"Leaderboard: {path}")
    return 0
