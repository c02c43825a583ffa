"""``python -m benchmark stats SCORES``: Friedman, Nemenyi and Wilcoxon-Holm on a score table.

SCORES is a run folder (or its ``scores.parquet``): each learner's mean tuned outer-test score
per dataset, in the dataset's primary metric. Or a table of your own, wide (a ``dataset`` column, or else the first column, then one column per
learner) or long (columns ``dataset``, ``learner``, ``value``).  A ``.tsv`` file is read
tab-separated.  Bad input prints one message naming the file, row and column; exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

from benchmark import stats

LONG_COLUMNS = ("dataset", "learner", "value")


class TableError(Exception):
    """A problem with the scores file, already phrased for the user."""


def read_run(path: Path) -> tuple[pd.DataFrame, bool]:
    """A run folder (or its ``scores.parquet``): each learner's mean tuned outer-test score in
    each dataset's primary metric, as a datasets x learners table, and whether lower is better."""
    from benchmark import metrics

    folder = path if path.is_dir() else path.parent
    try:
        scores = pd.read_parquet(folder / "scores.parquet")
        chosen = {d: v["metric"] for d, v in
                  json.loads((folder / "manifest.json").read_text())["datasets"].items()}
    except (OSError, ValueError, KeyError) as exc:
        raise TableError(f"{folder}: not a finished run folder (scores.parquet and manifest.json "
                         f"are needed): {exc}")
    lower = {not metrics.higher_is_better(m) for m in chosen.values()}
    if len(lower) > 1:
        raise TableError(f"{folder}: its datasets' primary metrics point different ways "
                         f"({chosen}); compare them with a score table of your own")
    tuned = scores[(scores["config"] == "tuned")
                   & (scores["metric"] == scores["dataset"].map(chosen))]
    table = tuned.groupby(["dataset", "learner"], sort=False)["value"].mean().unstack("learner")
    table = table.reindex(index=list(chosen))
    partial = [c for c in table.columns if table[c].isna().any()]
    if partial:  # e.g. a CNN that only reads one modality: ranks need every dataset
        print(f"benchmark stats: left out, not scored on every dataset: {', '.join(partial)}",
              file=sys.stderr)
    return table.drop(columns=partial), lower.pop()


def read_scores(path: Path) -> pd.DataFrame:
    """Read a wide or long scores file into a datasets x learners table (not yet validated)."""
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    try:
        raw = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TableError(f"{path}: cannot read as {'TSV' if path.suffix.lower() == '.tsv' else 'CSV'}: {exc}")
    raw.columns = [str(c).strip() for c in raw.columns]
    if set(LONG_COLUMNS) <= {c.lower() for c in raw.columns}:
        return _pivot_long(path, raw.rename(columns=str.lower))
    key = "dataset" if "dataset" in raw.columns else raw.columns[0]
    return raw.set_index(key)


def _pivot_long(path: Path, raw: pd.DataFrame) -> pd.DataFrame:
    """Long rows (dataset, learner, value) to a wide table, keeping first-seen order."""
    dup = raw.duplicated(subset=["dataset", "learner"], keep=False)
    if dup.any():
        first = raw[dup].iloc[0]
        lines = ", ".join(str(i + 2) for i in raw.index[dup & (raw["dataset"] == first["dataset"])
                                                         & (raw["learner"] == first["learner"])])
        raise TableError(f"{path}: row {first['dataset']!r}, column {first['learner']!r}: "
                         f"given more than once (lines {lines}); keep one score per dataset and learner")
    wide = raw.pivot(index="dataset", columns="learner", values="value")
    return wide.reindex(index=raw["dataset"].unique(), columns=raw["learner"].unique())


def analyse(table: pd.DataFrame, alpha: float, lower_is_better: bool) -> dict:
    """All figures the command reports, as plain JSON-ready values."""
    fr = stats.friedman(table, lower_is_better)
    pairs = stats.wilcoxon_holm(table, alpha, lower_is_better)
    return {
        "n_datasets": fr.n_datasets,
        "n_learners": fr.n_learners,
        "alpha": alpha,
        "avg_ranks": {str(k): float(v) for k, v in fr.avg_ranks.items()},
        "friedman_chi2": fr.chi2,
        "friedman_p": fr.p,
        "iman_davenport_F": fr.iman_davenport_F,
        "iman_davenport_p": fr.iman_davenport_p,
        "nemenyi_cd": stats.nemenyi_cd(fr.n_learners, fr.n_datasets, alpha),
        "pairwise": [
            {"a": str(r.a), "b": str(r.b), "rank_diff": r.rank_diff,
             "nemenyi_significant": bool(r.nemenyi_significant),
             "wilcoxon_p": r.wilcoxon_p, "wilcoxon_p_holm": r.wilcoxon_p_holm}
            for r in pairs.itertuples()
        ],
    }


def _finite_or_none(value):
    """JSON has no inf/NaN: an infinite F or an undefined p becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def render(result: dict, source: str, lower_is_better: bool) -> str:
    """Human-readable report."""
    ranks = pd.Series(result["avg_ranks"]).sort_values()
    pairs = pd.DataFrame(result["pairwise"])
    pairs["nemenyi_significant"] = pairs["nemenyi_significant"].map({True: "yes", False: "no"})
    direction = "lower" if lower_is_better else "higher"
    return "\n".join([
        f"{source}: {result['n_datasets']} datasets x {result['n_learners']} learners "
        f"({direction} is better, alpha = {result['alpha']:g})",
        "",
        "Average ranks (1 = best, ties share the average rank):",
        ranks.to_frame("avg rank").to_string(float_format="{:.3f}".format),
        "",
        f"Friedman chi2 = {result['friedman_chi2']:.3f}, df = {result['n_learners'] - 1}, "
        f"p = {result['friedman_p']:.4g}",
        f"Iman-Davenport F = {result['iman_davenport_F']:.3f}, df = ({result['n_learners'] - 1}, "
        f"{(result['n_learners'] - 1) * (result['n_datasets'] - 1)}), p = {result['iman_davenport_p']:.4g}",
        f"Nemenyi critical difference (alpha = {result['alpha']:g}) = {result['nemenyi_cd']:.3f}",
        "",
        "Pairwise (rank_diff = rank of a - rank of b; Wilcoxon signed-rank, Holm-adjusted):",
        pairs.to_string(index=False, formatters={"rank_diff": "{:+.3f}".format,
                                                 "wilcoxon_p": "{:.4g}".format,
                                                 "wilcoxon_p_holm": "{:.4g}".format}),
    ])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="benchmark stats", description=__doc__.splitlines()[0])
    p.add_argument("scores", type=Path, help="a run folder, or a CSV/TSV of scores, wide or long "
                   "(dataset, learner, value)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level (default 0.05)")
    p.add_argument("--lower-is-better", action="store_true", help="scores are losses (rank 1 = lowest)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    return p


def main(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage or help
        return int(exc.code or 0)
    if not 0 < args.alpha < 1:
        print(f"benchmark stats: --alpha must be between 0 and 1, got {args.alpha}", file=sys.stderr)
        return 2
    try:
        if args.scores.is_dir() or args.scores.suffix == ".parquet":
            table, lower = read_run(args.scores)
            args.lower_is_better = args.lower_is_better or lower
        else:
            table = read_scores(args.scores)
    except TableError as exc:
        print(f"benchmark stats: {exc}", file=sys.stderr)
        return 2
    try:
        table = stats.check_table(table)
    except ValueError as exc:
        print(f"benchmark stats: {args.scores}: {exc}", file=sys.stderr)
        return 2
    result = analyse(table, args.alpha, args.lower_is_better)
    if args.json:
        print(json.dumps(_finite_or_none(result), indent=2, allow_nan=False))
    else:
        print(render(result, str(args.scores), args.lower_is_better))
    return 0
