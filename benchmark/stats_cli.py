"""``python -m benchmark stats SCORES``: Friedman, Nemenyi and Wilcoxon-Holm on a score table.

SCORES is a run folder (or its ``scores.parquet``): each learner's mean tuned outer-test score
per dataset, in the dataset's primary metric, built by the report's own table code so that the
command and the page rank the same table.  Or a table of your own, wide (a ``dataset`` column,
or else the first column, then one column per learner) or long (columns ``dataset``,
``learner``, ``value``).  A ``.tsv`` file is read tab-separated.  Bad input prints one message
naming the file, row and column; exit code 2.  The pairwise tests are shown only when the
Friedman test rejects; warnings say what the number of datasets and learners cannot show.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from benchmark import stats

LONG_COLUMNS = ("dataset", "learner", "value")


class TableError(Exception):
    """A problem with the scores file, already phrased for the user."""


def read_run(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """A run folder (or its ``scores.parquet``) as the report's across-datasets table, with notes.

    The table is :func:`benchmark.report.tables.across_table` on
    :func:`~benchmark.report.tables.score_summary`, exactly as the report builds it: each
    learner's mean tuned outer-test score in each dataset's primary metric, oriented so that
    higher is better; a learner (or dataset) without a score on every outer fold is left out,
    and each note says which and why.
    """
    from benchmark.errors import ConfigError
    from benchmark.report import tables
    from benchmark.report.run import load_run
    from benchmark.run_folder import REPORT_NEEDS

    folder = path if path.is_dir() else path.parent
    needed = ", ".join(REPORT_NEEDS[:-1]) + " and " + REPORT_NEEDS[-1]
    try:
        run = load_run(folder)
        metric = {d: run.metric(d) for d in run.datasets}
        summary = tables.score_summary(run.scores, metric, tables.folds_per_dataset(run.scores, run.trials))
    except ConfigError as exc:
        raise TableError("; ".join(str(p) for p in exc.problems)) from None
    except (OSError, ValueError, KeyError) as exc:
        raise TableError(f"{folder}: not a finished run folder ({needed} are needed): {exc}") from None
    tuned = summary[summary["config"] == "tuned"]
    table, rows, cols = tables.across_table(tuned)
    return table, _left_out_notes(tuned, rows, cols)


def _left_out_notes(tuned: pd.DataFrame, datasets: list[str], learners: list[str]) -> list[str]:
    """Plain notes for the learners and datasets the across-datasets table leaves out."""
    def gaps(rows: pd.DataFrame, label: str) -> str:
        return ", ".join(
            f"{r[label]} ({'not scored' if r.n_scored == 0 else f'scored on {r.n_scored} of {r.n_folds} outer folds'}"
            f"{f': {r.error}' if r.error else ''})" for _, r in rows.iterrows())

    why = "ranks across datasets need a tuned score on every outer fold; the report leaves it out too"
    notes = []
    for learner in learners:
        mine = tuned[tuned["learner"] == learner]
        bad = mine[~mine["scored"]]
        absent = sorted(set(tuned["dataset"]) - set(mine["dataset"]))
        parts = ([f"failed on {gaps(bad, 'dataset')}"] if len(bad) else []) + \
                ([f"not run on {', '.join(map(str, absent))}"] if absent else [])
        notes.append(f"left out learner {learner}: {'; '.join(parts) or 'incomplete'} ({why})")
    for dataset in datasets:
        bad = tuned[(tuned["dataset"] == dataset) & ~tuned["scored"]]
        notes.append(f"left out dataset {dataset}: "
                     f"{'incomplete learners ' + gaps(bad, 'learner') if len(bad) else 'too few learners scored'}"
                     f" ({why.replace('leaves it', 'leaves the dataset')})")
    return notes


def _header(path: Path, sep: str) -> list[str]:
    """The file's first line as written: pandas renames a repeated column (A, A.1) silently."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return [c.strip() for c in next(csv.reader(f, delimiter=sep), [])]
    except (UnicodeDecodeError, csv.Error):
        return []  # pandas says what is wrong with the file


def read_scores(path: Path) -> pd.DataFrame:
    """Read a wide or long scores file into a datasets x learners table (not yet validated)."""
    if not path.is_file():
        raise TableError(f"{path}: no such file")
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    header = _header(path, sep)
    repeated = [name for name, n in Counter(header).items() if n > 1]
    if repeated:
        where = [i + 1 for i, c in enumerate(header) if c == repeated[0]]
        raise TableError(f"{path}: column {repeated[0]!r} appears {len(where)} times in the header "
                         f"(columns {', '.join(map(str, where))}); each learner needs exactly one column")
    try:
        raw = pd.read_csv(path, sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TableError(f"{path}: cannot read as {'TSV' if sep == chr(9) else 'CSV'}: {exc}")
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
    """All figures the command reports, as plain JSON-ready values.

    ``pairwise`` is always computed; ``posthoc_reason`` is empty only when the Friedman test
    rejects at ``alpha``, the one case in which the pairwise results may be read.
    """
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
        "friedman_permutation_p": fr.permutation_p,
        "friedman_permutation_method": fr.permutation_method,
        "friedman_permutations": fr.n_permutations,
        "posthoc_reason": stats.posthoc_gate(fr, alpha),
        "warnings": stats.across_warnings(fr.n_datasets, fr.n_learners, alpha),
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


def _p(value: float, alpha: float) -> str:
    """A p-value to four significant digits, or more where four would round it across alpha
    (0.049995 must not read as 0.05)."""
    text = f"{value:.4g}"
    digits = 4
    while digits < 10 and math.isfinite(value) and (float(text) <= alpha) != (value <= alpha):
        digits += 1
        text = f"{value:.{digits}g}"
    return text


def render(result: dict, source: str, direction: str) -> str:
    """Human-readable report: ranks, the omnibus test, warnings, then the gated pairwise tests."""
    ranks = pd.Series(result["avg_ranks"]).sort_values()
    k, n = result["n_learners"], result["n_datasets"]
    how = ("all orderings" if result["friedman_permutation_method"] == "exact" else "permutations")
    lines = [
        f"{source}: {n} datasets x {k} learners ({direction}, alpha = {result['alpha']:g})",
        "",
        "Average ranks (1 = best, ties share the average rank):",
        ranks.to_frame("avg rank").to_string(float_format="{:.3f}".format),
        "",
        f"Friedman chi2 = {result['friedman_chi2']:.3f} (ties corrected), df = {k - 1}, "
        f"p = {result['friedman_p']:.4g}",
        f"Iman-Davenport F = {result['iman_davenport_F']:.3f}, df = ({k - 1}, {(k - 1) * (n - 1)}), "
        f"p = {result['iman_davenport_p']:.4g}",
        f"Permutation p = {_p(result['friedman_permutation_p'], result['alpha'])} "
        f"({result['friedman_permutation_method']}, "
        f"{result['friedman_permutations']} {how})",
    ]
    if result["warnings"]:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in result["warnings"]]
    lines.append("")
    if result["posthoc_reason"]:
        return "\n".join(lines + [f"Pairwise tests not shown: {result['posthoc_reason']}."])
    gate = result["friedman_permutation_p"]
    gate_name = "permutation p"
    if gate is None or not math.isfinite(gate):
        gate, gate_name = result["iman_davenport_p"], "Iman-Davenport p"
    lines.append(f"The Friedman test rejects equal average ranks at alpha = {result['alpha']:g} "
                 f"({gate_name} = {_p(gate, result['alpha'])}), so the pairwise tests may be read.")
    pairs = pd.DataFrame(result["pairwise"])
    pairs["nemenyi_significant"] = pairs["nemenyi_significant"].map({True: "yes", False: "no"})
    return "\n".join(lines + [
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
        print(f"benchmark stats: --alpha must satisfy 0 < alpha < 1, got {args.alpha}", file=sys.stderr)
        return 2
    try:
        if args.scores.is_dir() or args.scores.suffix == ".parquet":
            table, notes = read_run(args.scores)
            if args.lower_is_better:
                notes.insert(0, "--lower-is-better is ignored for a run folder: each dataset's "
                                "metric gives its direction, and scores are oriented so higher is better")
            lower, direction = False, "each dataset's primary metric, oriented so higher is better"
        else:
            table, notes = read_scores(args.scores), []
            lower = args.lower_is_better
            direction = "lower is better" if lower else "higher is better"
    except TableError as exc:
        print(f"benchmark stats: {exc}", file=sys.stderr)
        return 2
    for note in notes:
        print(f"benchmark stats: {note}", file=sys.stderr)
    try:
        table = stats.check_table(table)
    except ValueError as exc:
        print(f"benchmark stats: {args.scores}: {exc}", file=sys.stderr)
        return 2
    result = analyse(table, args.alpha, lower)
    if args.json:
        print(json.dumps(_finite_or_none(result), indent=2, allow_nan=False))
    else:
        print(render(result, str(args.scores), direction))
    return 0
