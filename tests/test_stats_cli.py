"""``benchmark stats``: header checks, run folders read as the report reads them, warnings and the gate."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.report import comparisons, tables
from benchmark.report.run import load_run
from benchmark.stats_cli import main

ROOT = Path(__file__).resolve().parents[1]
DEEP = {"mlp", "cnn1d"}


def _json(capsys, *argv) -> tuple[dict, str]:
    assert main([*map(str, argv), "--json"]) == 0
    out = capsys.readouterr()
    return json.loads(out.out), out.err


# --------------------------------------------------------------- CSV headers


@pytest.mark.parametrize("header, name, where", [
    ("dataset,svm,knn,svm", "svm", "columns 2, 4"),
    ("dataset, rf ,knn,rf", "rf", "columns 2, 4"),  # spaces are stripped before comparing
])
def test_repeated_learner_column_exits_2_naming_it(tmp_path, capsys, header, name, where):
    path = tmp_path / "scores.csv"
    path.write_text(f"{header}\nwine,0.9,0.8,0.7\niris,0.7,0.6,0.5\n")
    assert main([str(path)]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    assert f"{path}: column {name!r} appears 2 times in the header ({where})" in err.err
    assert len(err.err.strip().splitlines()) == 1


def test_repeated_column_as_a_subprocess(tmp_path):
    path = tmp_path / "scores.tsv"
    path.write_text("dataset\tA\tB\tA\nx\t1\t2\t3\ny\t2\t1\t3\n")
    done = subprocess.run([sys.executable, "-m", "benchmark", "stats", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert "column 'A' appears 2 times in the header (columns 2, 4)" in done.stderr
    assert "A.1" not in done.stderr


# ---------------------------------------------------------- the omnibus gate


def test_pairwise_hidden_when_friedman_does_not_reject(tmp_path, capsys):
    path = tmp_path / "null.csv"
    values = np.random.default_rng(0).normal(size=(6, 3)).round(4)
    pd.DataFrame(values, columns=["a", "b", "c"], index=[f"d{i}" for i in range(6)]).rename_axis(
        "dataset").to_csv(path)
    result, _ = _json(capsys, path)
    assert result["friedman_permutation_method"] == "exact"  # 6^6 orderings enumerated
    assert result["posthoc_reason"].startswith("the Friedman test does not reject")
    assert any("only 6 datasets and 3 learners" in w for w in result["warnings"])
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "Pairwise tests not shown: the Friedman test does not reject" in out
    assert "Nemenyi critical difference" not in out and "wilcoxon_p" not in out
    assert "Warnings:" in out and "Demsar" in out


def test_alpha_out_of_range_states_the_rule(capsys):
    assert main(["x.csv", "--alpha", "1.5"]) == 2
    assert "--alpha must satisfy 0 < alpha < 1, got 1.5" in capsys.readouterr().err


# ------------------------------------------------------------- run folders


def _run_folder(tmp_path: Path, plan: dict, failed: dict[tuple[str, str], set[int]]) -> Path:
    """A minimal run folder: plan = {dataset: (metric, {learner: base score})};
    failed = {(dataset, learner): outer folds whose tuned refit raised}."""
    scores, trials = [], []
    for d, (metric, bases) in plan.items():
        for learner, base in bases.items():
            family = "deep" if learner in DEEP else "classical"
            for fold in range(3):
                cell = dict(dataset=d, outer_fold=fold, learner=learner, family=family)
                trials.append(dict(cell, trial=0, state="COMPLETE", value=base, seconds=1.0, error=None))
                for config, shift in (("tuned", 0.0), ("default", -0.05)):
                    if config == "tuned" and fold in failed.get((d, learner), ()):
                        scores.append(dict(cell, config=config, metric="(none)", value=np.nan, trial=0,
                                           error="RuntimeError: loss became NaN\nTraceback ..."))
                        continue
                    for m in dict.fromkeys((metric, "auroc", "auprc")):
                        value = base + shift + fold * 0.01 + (0.0 if m == metric else -0.3)
                        scores.append(dict(cell, config=config, metric=m, value=value, trial=0, error=None))
    pd.DataFrame(scores).to_parquet(tmp_path / "scores.parquet")
    pd.DataFrame(trials).to_parquet(tmp_path / "trials.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"datasets": {d: {"metric": metric} for d, (metric, _) in plan.items()}}))
    return tmp_path


def _report_across(folder: Path) -> comparisons.Across:
    """The report's own across-datasets result, computed as its analysis step does."""
    run = load_run(folder)
    metric = {d: run.metric(d) for d in run.datasets}
    summary = tables.score_summary(run.scores, metric, tables.folds_per_dataset(run.scores, run.trials))
    return comparisons.across_datasets(summary[summary["config"] == "tuned"])


BASES = {"svm": 0.9, "rf": 0.85, "knn": 0.8, "mlp": 0.75}


def test_run_folder_learner_not_run_everywhere_is_left_out(tmp_path, capsys):
    plan = {"a": ("auroc", {**BASES, "cnn1d": 0.95}), "b": ("auprc", BASES), "c": ("auroc", BASES)}
    result, err = _json(capsys, _run_folder(tmp_path, plan, {}))
    assert result["avg_ranks"] == {"knn": 3.0, "mlp": 4.0, "rf": 2.0, "svm": 1.0}
    assert "left out learner cnn1d: not run on b, c" in err


def test_run_folder_learner_failing_on_outer_folds_is_left_out_as_in_the_report(tmp_path, capsys):
    plan = {d: ("auroc", BASES) for d in "abcde"}
    folder = _run_folder(tmp_path, plan, {("a", "rf"): {1}, ("c", "rf"): {0, 2}})
    result, err = _json(capsys, folder)
    across = _report_across(folder)
    assert across.dropped_learners == ["rf"] and across.dropped_datasets == []
    assert result["avg_ranks"] == {k: float(v) for k, v in across.friedman.avg_ranks.items()}
    assert "rf" not in result["avg_ranks"] and result["n_datasets"] == 5
    assert ("left out learner rf: failed on a (scored on 2 of 3 outer folds: RuntimeError: loss "
            "became NaN), c (scored on 1 of 3 outer folds: RuntimeError: loss became NaN)") in err
    assert "the report leaves it out too" in err


def test_run_folder_single_failure_leaves_out_what_the_report_leaves_out(tmp_path, capsys):
    # one failed fold in a 5 x 4 table: the report drops the dataset (1/4 of its row is
    # missing, 1/5 of the column); the command must rank exactly the same table
    plan = {d: ("auroc", BASES) for d in "abcde"}
    folder = _run_folder(tmp_path, plan, {("b", "knn"): {2}})
    result, err = _json(capsys, folder)
    across = _report_across(folder)
    assert across.dropped_datasets == ["b"]
    assert result["n_datasets"] == 4 and result["friedman_chi2"] == pytest.approx(across.friedman.chi2)
    assert result["avg_ranks"] == {k: float(v) for k, v in across.friedman.avg_ranks.items()}
    assert "left out dataset b: incomplete learners knn (scored on 2 of 3 outer folds" in err


def test_run_folder_losses_are_oriented_like_the_report(tmp_path, capsys):
    # a lower-is-better primary metric next to AUROC: the report orients both so higher is better
    plan = {"a": ("auroc", BASES), "b": ("log_loss", {k: 1 - v for k, v in BASES.items()}),
            "c": ("auroc", BASES)}
    result, err = _json(capsys, _run_folder(tmp_path, plan, {}), "--lower-is-better")
    assert result["avg_ranks"] == {"knn": 3.0, "mlp": 4.0, "rf": 2.0, "svm": 1.0}
    assert "--lower-is-better is ignored for a run folder" in err


def test_not_a_run_folder(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "Traceback" not in err


def test_p_values_never_round_across_alpha_and_the_gate_is_named():
    from benchmark.stats_cli import _p, render

    assert float(_p(0.049995, 0.05)) < 0.05 and _p(0.0501, 0.05) == "0.0501"
    assert _p(0.123456, 0.05) == "0.1235" and float(_p(0.0500004, 0.05)) > 0.05
    result = {"avg_ranks": {"a": 1.0, "b": 2.0}, "n_learners": 2, "n_datasets": 9,
              "alpha": 0.05, "friedman_chi2": 4.0, "friedman_p": 0.0455, "iman_davenport_F": 5.0,
              "iman_davenport_p": 0.056, "friedman_permutation_p": 0.049995,
              "friedman_permutation_method": "Monte Carlo", "friedman_permutations": 20000,
              "warnings": [], "posthoc_reason": "", "nemenyi_cd": 0.9,
              "pairwise": [{"a": "a", "b": "b", "rank_diff": -1.0, "nemenyi_significant": True,
                            "wilcoxon_p": 0.004, "wilcoxon_p_holm": 0.004}]}
    text = render(result, "scores.csv", "higher is better")
    assert "Permutation p = 0.04999" in text and "Permutation p = 0.05 " not in text
    assert "rejects equal average ranks at alpha = 0.05 (permutation p = 0.04999)" in text
