"""The leaderboard across runs: two real run folders in, one offline page and its long table out.

The runs are made by the real runner (embedded Ray) on bundled real datasets and a small CSV, so
what the leaderboard reads is what ``python -m benchmark run`` writes. Elo is checked against a
closed form and against an independent fit (scikit-learn's logistic regression, as TabArena fits
it).
"""
from __future__ import annotations

import base64
import json
import math
import re
import shutil
import time
from html import unescape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark import stats
from benchmark.leaderboard import merge, table
from benchmark.leaderboard.cli import main
from benchmark.report.analysis import analyse
from benchmark.report.run import load_run
from benchmark.runner import execute, prepare

from helpers import write_csv_dataset, write_study

NO_CHECKS = "checks: {enabled: false}\n"
LONG_COLUMNS = ["dataset", "learner", "family", "fold", "metric", "value", "run"]


def _run(folder: Path, name: str, datasets: list[str], learners: list[str]) -> Path:
    study = write_study(folder, datasets, learners, trials=2, folds=2, name=name, extra=NO_CHECKS)
    out = folder / "run"
    execute(prepare(str(study)), out)
    return out


@pytest.fixture(scope="module")
def runs(ray_local, tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny real runs on different datasets and partly different learners."""
    a = tmp_path_factory.mktemp("run_a")
    toy = write_csv_dataset(a, name="toy")
    first = _run(a, "lb_a", ["promoters", toy.name], ["logreg", "naive_bayes", "mlp"])
    second = _run(tmp_path_factory.mktemp("run_b"), "lb_b", ["dermatology", "breast_cancer"],
                  ["logreg", "knn", "mlp"])
    return first, second


@pytest.fixture(scope="module")
def board(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("board")
    assert main([*map(str, runs), "--out", str(out)]) == 0
    return out


def _copy(run: Path, to: Path, **changes) -> Path:
    """A copy of a run folder whose manifest says other things (finished, a dataset's keys)."""
    shutil.copytree(run, to)
    m = json.loads((to / "manifest.json").read_text())
    for key, value in changes.items():
        if "." in key:
            d, field = key.split(".")
            m["datasets"][d][field] = value
        else:
            m[key] = value
    (to / "manifest.json").write_text(json.dumps(m))
    return to


def _text(html: str) -> str:
    html = re.sub(r"<script>.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# ------------------------------------------------------------------ the page and its table


def test_long_table_holds_every_complete_learner_on_every_fold(runs, board):
    long = pd.read_parquet(board / "leaderboard.parquet")
    assert list(long.columns) == LONG_COLUMNS
    assert set(long["dataset"]) == {"promoters", "toy", "dermatology", "breast_cancer"}
    for run in runs:
        r = load_run(run)
        for d in r.datasets:
            mine = long[long["dataset"] == d]
            assert set(mine["run"]) == {str(run)} and set(mine["metric"]) == {r.metric(d)}
            tuned = r.scores[(r.scores["dataset"] == d) & (r.scores["config"] == "tuned")
                             & (r.scores["metric"] == r.metric(d))]
            merged = mine.merge(tuned, left_on=["learner", "fold"], right_on=["learner", "outer_fold"])
            assert len(merged) == len(mine) == len(tuned) == 2 * 3  # 2 folds x 3 learners
            assert np.allclose(merged["value_x"], merged["value_y"])


def test_verdicts_and_best_learners_are_the_run_reports_own(runs):
    m = merge.merge(merge.load(list(runs)))
    rows = {r["dataset"]: r for r in table.dataset_rows(m)}
    for run in runs:
        a = analyse(load_run(run))
        for d in a.run.datasets:
            v = a.verdicts[d]
            assert rows[d]["outcome"] == (v.equal.outcome if v.equal is not None else "")
            tuned = a.tuned[a.tuned["dataset"] == d]
            for family, (learner, mean) in rows[d]["best"].items():
                best = tuned[(tuned["family"] == family) & tuned["scored"]]  # all higher-is-better here
                assert mean == pytest.approx(best["mean"].max()) and learner in set(best["learner"])


def test_page_states_verdicts_rankings_coverage_and_what_was_left_out(board):
    text = _text((board / "index.html").read_text())
    for section in ("Runs merged", "Datasets and verdicts", "Learners: all datasets", "Learners: tabular",
                    "Learners: sequence", "Coverage and what was left out", "TabArena"):
        assert section in text, section
    # naive Bayes ran only in the first run, k-NN only in the second: each is said, with the reason
    assert re.search(r"dermatology naive Bayes \S+ not among the learners of this run's study", text)
    assert re.search(r"promoters k-NN \S+ not among the learners of this run's study", text)
    assert "One dataset: the interval cannot show how the ranking varies between datasets" in text


def test_elo_and_win_rates_on_the_page_come_from_the_long_table(board):
    long = table.oriented(pd.read_parquet(board / "leaderboard.parquet"))
    text = _text((board / "index.html").read_text())
    result = stats.elo(long, n_boot=1000)
    best = result.table.index[0]
    from benchmark.report import labels

    row = re.search(rf"{re.escape(labels.learner(best))} (classical|deep) (\d+) (-?\d+) (-?\d+) to (-?\d+)", text)
    assert row and int(row.group(3)) == round(result.table.at[best, "elo"])
    assert int(row.group(2)) == long.loc[long["learner"] == best, "dataset"].nunique()


# ------------------------------------------------------------------ merging runs


def test_a_dataset_in_two_runs_counts_once_from_the_later_run_or_the_chosen_one(runs, tmp_path):
    later = _copy(runs[0], tmp_path / "again", finished="2999-01-01T00:00:00+00:00")
    m = merge.merge(merge.load([later, runs[0], runs[1]]))
    assert m.chosen["promoters"].run.dir == later and m.chosen["dermatology"].run.dir == runs[1]
    assert {(d, s.run.dir) for d, s, _, _ in m.superseded} == {("promoters", runs[0]), ("toy", runs[0])}
    chosen = merge.merge(merge.load([later, runs[0]]), {"toy": str(runs[0])})
    assert chosen.chosen["toy"].run.dir == runs[0] and chosen.chosen["promoters"].run.dir == later
    out = tmp_path / "board"
    assert main([str(later), str(runs[0]), "--out", str(out)]) == 0
    long = pd.read_parquet(out / "leaderboard.parquet")
    assert set(long["run"]) == {str(later)} and not long.duplicated(["dataset", "learner", "fold"]).any()
    assert "the same dataset also in" in _text((out / "index.html").read_text())


@pytest.mark.parametrize("keys, value, what", [
    (["content_sha256", "sha256"], "0" * 64, r"(content_sha256|sha256).*content,"),
    (["split_sha256"], "f" * 64, r"split_sha256.*split plan,"),
    (["metric"], "auprc", r"metric.*primary metric,")])
def test_runs_that_disagree_on_a_dataset_are_refused_with_exit_2(runs, tmp_path, capsys, keys, value, what):
    changed = _copy(runs[0], tmp_path / "changed", **{f"promoters.{k}": value for k in keys})
    out = tmp_path / "board"
    assert main([str(runs[0]), str(changed), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"datasets\.promoters\." + what, err), err
    assert "must agree on each shared dataset's" in err and "dataset promoters differs" in err
    assert value in err and "Fix:" in err and "leave one of the runs out" in err
    assert not out.exists()  # nothing written


def test_a_choice_that_names_no_run_or_no_dataset_is_refused(runs, tmp_path, capsys):
    assert main([str(runs[0]), "--use", f"dermatology={runs[0]}", "--out", str(tmp_path)]) == 2
    assert "must name a dataset of that run" in capsys.readouterr().err
    assert main([str(runs[0]), "--use", f"toy={tmp_path}", "--out", str(tmp_path)]) == 2
    assert "must name one of the run folders given" in capsys.readouterr().err
    assert main([str(runs[0]), "--use", "toy", "--out", str(tmp_path)]) == 2
    assert "must be DATASET=RUN_DIR" in capsys.readouterr().err


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    assert main([str(tmp_path), "--out", str(tmp_path / "board")]) == 2
    assert "manifest.json" in capsys.readouterr().err


# ------------------------------------------------------------------ Elo and win rates


def test_elo_of_a_three_to_one_record_is_400_log10_3():
    """Bradley-Terry: A beats B on 3 of 4 datasets, so P(A wins) = 3/4 and A - B = 400 log10(3)."""
    t = pd.DataFrame({"dataset": [f"d{i}" for i in range(4)] * 2, "learner": ["A"] * 4 + ["B"] * 4,
                      "value": [1, 1, 1, 0, 0, 0, 0, 1]})
    r = stats.elo(t, n_boot=200).table
    assert r.loc["A", "elo"] - r.loc["B", "elo"] == pytest.approx(400 * math.log10(3), abs=1e-3)
    assert r["elo"].mean() == pytest.approx(1000)
    assert (r["low"] <= r["elo"]).all() and (r["elo"] <= r["high"]).all()
    assert stats.win_rates(t).loc["A", "B"] == 0.75


def _random_long(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"d{d}", f, name, round(skill + rng.normal(0, 0.5), 1))
            for d in range(12) for f in range(3) for name, skill in zip("ABCD", [0.0, 0.3, 0.5, 0.9])]
    return pd.DataFrame(rows, columns=["dataset", "fold", "learner", "value"])


def test_elo_equals_tabarenas_logistic_regression_fit():
    """The independent computation: TabArena's design (each battle twice, a tie one win each way,
    weight 1/folds, X = +-ln 10) through scikit-learn's LogisticRegression(C=1e6)."""
    from sklearn.linear_model import LogisticRegression

    t = _random_long()
    b = stats.battles(t)
    assert (b["score"] == 0.5).any()  # ties are exercised
    twice = pd.concat([b, b], ignore_index=True)
    names = sorted(set(t["learner"]))
    X = np.zeros((len(twice), len(names)))
    X[np.arange(len(twice)), twice["a"].map(names.index)] = math.log(10)
    X[np.arange(len(twice)), twice["b"].map(names.index)] = -math.log(10)
    tie = (twice["score"] == 0.5).to_numpy() & (np.arange(len(twice)) < len(b))
    y = ((twice["score"] == 1).to_numpy() | tie).astype(float)
    fit = LogisticRegression(fit_intercept=False, C=1e6, tol=1e-12, max_iter=10_000)
    fit.fit(X, y, sample_weight=twice["weight"])
    expected = pd.Series(400 * fit.coef_[0] + 1000, index=names)
    got = stats.elo(t, n_boot=50).table["elo"]
    assert np.allclose(got[names], expected, atol=0.05)


def test_elo_bootstrap_resamples_datasets_and_anchor_shifts_everything():
    t = _random_long()
    free, anchored = stats.elo(t, n_boot=300, seed=3), stats.elo(t, n_boot=300, seed=3, anchor="A")
    shift = 1000 - free.table.at["A", "elo"]
    assert anchored.table.at["A", "elo"] == pytest.approx(1000)
    for col in ("elo", "low", "high"):
        assert np.allclose(anchored.table[col].sort_index(), free.table[col].sort_index() + shift)
    assert list(free.table.index) == ["D", "C", "B", "A"]  # the true order of skills
    assert (free.table["datasets"] == 12).all()
    wide = stats.elo(t[t["dataset"].isin(["d0", "d1", "d2"])], n_boot=300, seed=3).table
    assert ((wide["high"] - wide["low"]) > (free.table["high"] - free.table["low"]).reindex(wide.index)).all()


def test_win_rates_are_complementary_and_count_each_dataset_once():
    t = pd.DataFrame({"dataset": ["d0"] * 6 + ["d1"] * 2, "fold": [0, 1, 2, 0, 1, 2, 0, 0],
                      "learner": ["A", "A", "A", "B", "B", "B", "A", "B"],
                      "value": [1, 1, -1, 0, 0, 0, 0.5, 0.5]})
    w = stats.win_rates(t)
    assert w.loc["A", "B"] == pytest.approx((2 / 3 + 0.5) / 2)  # d0: 2 of 3 folds; d1: a tie
    assert w.loc["A", "B"] + w.loc["B", "A"] == pytest.approx(1) and np.isnan(w.loc["A", "A"])
    lower = stats.win_rates(t, lower_is_better=True)
    assert lower.loc["A", "B"] == pytest.approx(1 - w.loc["A", "B"])


def test_elo_names_bad_input():
    with pytest.raises(ValueError, match="needs columns"):
        stats.elo(pd.DataFrame({"dataset": ["d"], "value": [1.0]}))
    with pytest.raises(ValueError, match="appears more than once"):
        stats.elo(pd.DataFrame({"dataset": ["d", "d"], "learner": ["A", "A"], "value": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="at least 2 learners"):
        stats.elo(pd.DataFrame({"dataset": ["d"], "learner": ["A"], "value": [1.0]}))
    with pytest.raises(ValueError, match="anchor 'Z'"):
        stats.elo(_random_long(), n_boot=2, anchor="Z")


# ------------------------------------------------------------------ in a real browser


@pytest.mark.browser
def test_leaderboard_renders_in_headless_chromium(board, tmp_path):
    from test_report import ARTIFACTS, CHROMIUM, PLOT_CHECK, DevTools, _errors

    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make browser installs it)")
    path = board / "index.html"
    n_figures = path.read_text().count('class="plot"')
    browser = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        browser.open_tab(1400, 4000)
        browser.load(path)
        plots = []
        for _ in range(50):
            plots = json.loads(browser.evaluate(PLOT_CHECK))
            if plots and all(p["svg"] and p["traces"] for p in plots):
                break
            time.sleep(0.2)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, timeout=120)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "leaderboard.png").write_bytes(base64.b64decode(shot["data"]))
        errors = _errors(browser.events)
    finally:
        browser.close()
    assert not errors, errors
    assert len(plots) == n_figures >= 6  # CD, Elo and win rates over all datasets at least
    empty = [p["id"] for p in plots if not (p["svg"] and p["data"] and p["traces"])]
    assert not empty, f"figures drawn without data: {empty}"
