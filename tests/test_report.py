"""The run report: a synthetic but consistent run folder in, one offline HTML page out.

``make_run_folder`` writes what ``python -m benchmark run`` writes (manifest, trials, scores,
curves, fits, splits) with known numbers, so the page's statements can be checked against them.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmark.report import build_report, tables
from benchmark.report.analysis import analyse
from benchmark.report.run import load_run

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
PLOTLY_MARKER = "* plotly.js v"  # the banner at the top of the plotly.js bundle

DEEP = {"mlp", "resnet", "cnn1d", "cnn2d"}
LOWER_IS_BETTER = {"rmse", "mae", "log_loss", "brier"}

# dataset -> task, primary metric, tuned outer score per learner (the truth the page must tell)
STUDY = {
    "expression": ("binary", "auroc",
                   {"logreg": 0.80, "random_forest": 0.86, "xgboost": 0.84, "mlp": 0.845}),
    "digits": ("multiclass", "balanced_accuracy",
               {"logreg": 0.90, "random_forest": 0.93, "xgboost": 0.92, "mlp": 0.975}),
    "methylation": ("regression", "rmse",
                    {"random_forest": 1.10, "xgboost": 1.05, "mlp": 1.20}),
}
SECONDS = {"logreg": 0.2, "random_forest": 1.5, "xgboost": 1.0, "mlp": 20.0}
OOM = "RuntimeError: CUDA out of memory\nTraceback ..."


def _metrics(task: str, primary: str, value: float) -> dict[str, float]:
    """A full, plausible metric panel whose primary metric equals ``value``."""
    if task == "regression":
        return {"rmse": value, "mae": 0.8 * value, "r2": 1 - value / 2.5}
    p = value if primary == "auroc" else min(value + 0.02, 0.999)
    bacc = value if primary == "balanced_accuracy" else p - 0.08
    return {"auroc": p, "auprc": p - 0.04, "balanced_accuracy": bacc, "mcc": 2 * (p - 0.1) - 1,
            "accuracy": p - 0.07, "log_loss": 1.25 - p, "brier": (1 - p) / 2}


def _splits(run: Path, ds: str, n: int, folds: int, seed: int, rng) -> None:
    order = rng.permutation(n)
    out = []
    for k in range(folds):
        test = sorted(order[k::folds].tolist())
        train = sorted(set(range(n)) - set(test))
        cut = len(train) * 4 // 5
        out.append({"train": train, "test": test,
                    "inner": [{"train": train[:cut], "validation": train[cut:]}]})
    (run / "splits" / f"{ds}.json").write_text(json.dumps(
        {"dataset": ds, "seed": seed, "sha256": f"{ds}-split", "folds": out}))


def _profile(ds: str, task: str, metric: str, n: int) -> dict:
    info = {"name": ds, "task": task, "modality": "tabular", "n_samples": n, "n_features": 50,
            "missing_fraction": 0.02, "n_groups": 12 if ds == "expression" else 0,
            "views": {"tabular": [50]}, "sensitive": False, "sha256": f"{ds}-sha",
            "provenance": {"source": f"synthetic {ds}", "version": "1", "retrieved": "2026-01-01",
                           "sha256": f"{ds}-sha", "citation": "Test et al. 2026",
                           "license": "CC-BY-4.0"},
            "metric": metric, "split_sha256": f"{ds}-split"}
    if task != "regression":
        info["class_counts"] = {"a": 70, "b": 50} if task == "binary" else {"0": 40, "1": 40, "2": 40}
    return info


def _cell(rows: dict, key: dict, task: str, metric: str, tuned: float, n_trials: int,
          fit_fails: bool, rng) -> None:
    """One (dataset, fold, learner) cell: its trials, default and tuned scores, incumbents.

    The MLP fails trials 3 and 7 on fold 1; the default is trial 0.
    """
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    default = tuned - sign * 0.03
    fold_tuned = tuned + sign * rng.normal(0, 0.008)
    fold_default = default + sign * rng.normal(0, 0.008)
    vals = []
    for t in range(n_trials):
        failed = key["learner"] == "mlp" and key["outer_fold"] == 1 and t in (3, 7)
        val = np.nan if failed else (default if t == 0 else tuned - sign * abs(rng.normal(0.02, 0.015)))
        vals.append(val)
        rows["trials"].append(dict(**key, trial=t, state="FAIL" if failed else "COMPLETE",
                                   config=json.dumps({"t": t}), value=val,
                                   seconds=SECONDS[key["learner"]] * (1 + 0.1 * rng.random()),
                                   error=OOM if failed else None, node_id="node-1"))
    oriented = np.where(np.isnan(vals), -np.inf, sign * np.array(vals))
    best = int(np.argmax(oriented))
    for config, value, trial in (("default", fold_default, 0), ("tuned", fold_tuned, best)):
        if config == "tuned" and fit_fails:
            rows["scores"].append(dict(**key, config=config, metric="(none)", value=np.nan, trial=trial,
                                       fit_seconds=0.5, error="ValueError: Input contains NaN"))
            continue
        for m, v in _metrics(task, metric, value).items():
            rows["scores"].append(dict(**key, config=config, metric=m, value=v, trial=trial,
                                       fit_seconds=SECONDS[key["learner"]], error=None))
    running = -np.inf
    for t, o in enumerate(oriented):
        if o > running:  # a new incumbent: its outer test scores join the curve
            running = o
            frac = 1.0 if t == best else (0.0 if t == 0 else 0.5)
            score = fold_default + frac * (fold_tuned - fold_default)
            for m, v in _metrics(task, metric, score).items():
                rows["curves"].append(dict(**key, trial=t, metric=m, value=v))


def _manifest(study: dict, info: dict, pairs: list, skipped: list, folds: int, trials: int,
              seed: int) -> dict:
    learners = sorted({name for _, _, ls in study.values() for name in ls} | {"logreg"})
    config = {"name": "synthetic", "datasets": list(study), "learners": learners, "seed": seed,
              "metric": "auto", "budget": {"trials": trials, "seconds": None},
              "splits": {"outer_folds": folds, "inner": "holdout", "inner_folds": 5,
                         "holdout_fraction": 0.2},
              "resources": {"cpus_per_trial": 1, "gpus_per_deep_trial": 0.25, "retries": 2}}
    return {"study": "synthetic", "config": config, "config_hash": "0123456789abcdef", "seed": seed,
            "storage": "sqlite:///optuna.db", "started": "2026-01-01T10:00:00+00:00",
            "finished": "2026-01-01T11:00:00+00:00", "status": "complete",
            "versions": {"python": "3.11.7", "benchmark": "0.1.0", "optuna": "5.0.0", "plotly": "7.1.0"},
            "git_commit": "abc123",
            "hardware": {"machine": "x86_64", "system": "Linux", "cpus": 16, "memory_gb": 128.0},
            "ray": {"embedded": True, "cpus": 16, "gpus": True}, "datasets": info, "pairs": pairs,
            "skipped": skipped, "seeds": "derived as sha256(study seed, dataset, fold, learner, trial)"}


def make_run_folder(tmp_path: Path, *, folds: int = 3, trials: int = 10, study: dict | None = None,
                    short: tuple[str, str] | None = None,
                    failed_fit: tuple[str, str, int] | None = None,
                    legacy: bool = False, seed: int = 0) -> Path:
    """Write a complete run folder with synthetic but consistent numbers; returns its path.

    Every learner runs ``trials`` trials (trial 0 the default) per outer fold; the MLP fails
    trials 3 and 7 on fold 1.  ``short`` = (dataset, learner) drops that learner's last two
    trials on every fold (an unequal budget); ``failed_fit`` = (dataset, learner, fold) makes
    that tuned outer fit fail.  The outer-fit timings go to ``fits.parquet``, as runs write
    them today; ``legacy`` keeps them in the scores table instead, and names the trials' full
    configuration ``params``, as older runs did.
    """
    rng = np.random.default_rng(seed)
    study = study or STUDY
    run = tmp_path / "run"
    (run / "splits").mkdir(parents=True)
    rows = {"trials": [], "scores": [], "curves": []}
    pairs, skipped, info = [], [], {}
    for ds, (task, metric, learners) in study.items():
        _splits(run, ds, 120, folds, seed, rng)
        info[ds] = _profile(ds, task, metric, 120)
        if task == "regression":
            skipped.append([ds, "logreg", "does not accept tabular regression data"])
        for learner, tuned in learners.items():
            pairs.append([ds, learner])
            n_trials = trials - 2 if short == (ds, learner) else trials
            for k in range(folds):
                key = dict(dataset=ds, outer_fold=k, learner=learner,
                           family="deep" if learner in DEEP else "classical")
                _cell(rows, key, task, metric, tuned, n_trials, failed_fit == (ds, learner, k), rng)
    table = pd.DataFrame(rows["trials"])
    table = table.rename(columns={"config": "params"}) if legacy else table
    table.to_parquet(run / "trials.parquet", index=False)
    pd.DataFrame(rows["curves"]).to_parquet(run / "curves.parquet", index=False)
    scores = pd.DataFrame(rows["scores"])
    if not legacy:
        fits = scores.drop_duplicates(["dataset", "outer_fold", "learner", "config"])
        fits.drop(columns=["metric", "value"]).to_parquet(run / "fits.parquet", index=False)
        scores = scores.drop(columns="fit_seconds")
    scores.to_parquet(run / "scores.parquet", index=False)
    manifest = _manifest(study, info, pairs, skipped, folds, trials, seed)
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return run


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return make_run_folder(tmp_path)


@pytest.fixture
def report(run_dir) -> str:
    return build_report(run_dir).read_text(encoding="utf-8")


# ------------------------------------------------------------------ the page


SECTIONS = ["Verdict", "Budget", "Default vs tuned", "Unequal-tuning counterfactual", "Budget curves",
            "Across datasets", "Metric panel", "Compute cost vs score", "Pairs run and skipped",
            "Dataset profiles", "Reproducibility manifest"]


def test_writes_only_index_html(run_dir):
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    path = build_report(run_dir)
    after = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*"))
    assert path == run_dir / "index.html" and path.exists()
    assert set(after) - set(before) == {Path("index.html")}


def test_plotly_inlined_once_and_offline(report):
    assert report.count(PLOTLY_MARKER) == 1
    head, bundle_and_rest = report.split(PLOTLY_MARKER)
    rest = bundle_and_rest.split("</script>", 1)[1]  # the bundle's own default topojsonURL names the CDN
    assert "cdn.plot.ly" not in head + rest
    assert not re.search(r"<script[^>]+src=", report)
    assert not re.search(r"<link[^>]+href=[\"']https?://", report)


def test_every_section_heading_present(report):
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in report, title
    for title in SECTIONS:
        assert f">{title}</a>" in report, f"table of contents misses {title}"


def test_verdicts_compare_families_chosen_by_validation(run_dir):
    a = analyse(load_run(run_dir))
    expression, digits, methylation = (a.verdicts[d].equal for d in STUDY)
    assert expression.deep_picks == (("mlp", 3),) and methylation.classical_picks[0][0] == "xgboost"
    assert digits.mean > 0.03 and methylation.mean < -0.1  # oriented: rmse lower is better
    assert methylation.outcome == "classical" and digits.outcome == "undecided"  # 3 folds: wide
    html = build_report(run_dir).read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    assert ("Deep learning is not warranted on methylation: the classical family is better by more "
            "than the ROPE") in text
    assert "Undecided on digits" in text and "the deep family (picked MLP in 3 folds)" in text
    assert "by inner-validation score alone" in text
    assert "P(deep better by &gt; 0.01)" in html
    assert "ROPE: ±0.01 AUROC" in text
    assert "Learner against learner" in text and "p (Holm)" in text


def _family_tables(val: dict, test: dict):
    """Scores and trials of one dataset, 4 folds, tuned configs: {learner: [per-fold values]}."""
    scores, trials = [], []
    for learner in val:
        fam = "deep" if learner in DEEP else "classical"
        for k in range(4):
            key = dict(dataset="d", outer_fold=k, learner=learner, family=fam)
            scores.append(dict(**key, config="tuned", metric="auroc", value=test[learner][k], trial=5,
                               error=None))
            trials.append(dict(**key, trial=5, state="COMPLETE", value=val[learner][k], seconds=1.0))
    return pd.DataFrame(scores), pd.DataFrame(trials)


def test_family_picks_by_validation_never_by_test():
    from benchmark.report import comparisons

    # "lucky" has the best outer test scores but the worst validation: an AutoML system would
    # never pick it, so the classical family's score is the other learner's test score.
    val = {"steady": [0.80, 0.81, 0.79, 0.80], "lucky": [0.70, 0.70, 0.71, 0.70],
           "mlp": [0.75, 0.76, 0.74, 0.75]}
    test = {"steady": [0.78, 0.80, 0.79, 0.77], "lucky": [0.95, 0.96, 0.94, 0.95],
            "mlp": [0.76, 0.77, 0.75, 0.74]}
    scores, trials = _family_tables(val, test)
    picked = comparisons.family_folds(scores, trials, "d", "auroc", "classical", "tuned")
    assert picked["pick"].tolist() == ["steady"] * 4
    assert picked["test"].tolist() == test["steady"]
    c = comparisons.compare_families(scores, trials, "d", "auroc", "tuned", "tuned", 1 / 3, 0.01)
    assert c.classical_picks == (("steady", 4),) and c.deep_picks == (("mlp", 4),)
    assert c.mean == pytest.approx(np.mean(np.subtract(test["mlp"], test["steady"])))
    pairs = comparisons.learner_pairs(scores, trials, "d", "auroc", 1 / 3, 0.01)
    assert set(pairs["classical"]) == {"lucky", "steady"}  # every pair, never a maximum
    assert (pairs["p_holm"] >= pairs["p"]).all()


def test_budget_table_counts_failures(run_dir):
    b = tables.budget_table(pd.read_parquet(run_dir / "trials.parquet"))
    mlp = b[(b["dataset"] == "expression") & (b["learner"] == "mlp")].iloc[0]
    assert (mlp["trials"], mlp["complete"], mlp["failed"]) == (30, 28, 2)
    assert "CUDA out of memory" in mlp["top_error"]
    assert b["equal"].all()
    html = build_report(run_dir).read_text()
    assert "Equal budget" in html and "Unequal budget" not in html
    assert "RuntimeError: CUDA out of memory" in html


def test_budget_table_flags_an_unequal_budget(tmp_path):
    run = make_run_folder(tmp_path, short=("expression", "xgboost"))
    b = tables.budget_table(pd.read_parquet(run / "trials.parquet"))
    expr = b[b["dataset"] == "expression"].set_index("learner")
    assert not expr["equal"].any() and expr.at["xgboost", "short"] and expr.at["xgboost", "trials"] == 24
    assert b[b["dataset"] == "digits"]["equal"].all()
    html = build_report(run).read_text()
    assert "Unequal budget on expression" in html
    assert "Caution: the learners did not all get the same number of trials" in html


def test_failed_tuned_fit_is_shown_not_scored(tmp_path):
    run = make_run_folder(tmp_path, failed_fit=("digits", "mlp", 2))
    a = analyse(load_run(run))
    row = a.tuned[(a.tuned["dataset"] == "digits") & (a.tuned["learner"] == "mlp")].iloc[0]
    assert not row["scored"] and row["n_scored"] == 2 and "Input contains NaN" in row["error"]
    assert a.verdicts["digits"].equal is None
    html = build_report(run).read_text()
    assert "failed on 1 of 3 folds: ValueError: Input contains NaN" in html
    assert "No verdict on digits" in html  # the only deep learner is not scored on every fold


def test_classical_only_dataset_and_single_dataset(tmp_path):
    study = {"expression": ("binary", "auroc", {"logreg": 0.8, "random_forest": 0.86})}
    html = build_report(make_run_folder(tmp_path, study=study)).read_text()
    assert "No verdict on expression: only classical learners ran" in html
    assert "Omitted: only 1 dataset in this run" in html


def test_deep_only_dataset_and_an_empty_run(tmp_path):
    study = {"images": ("multiclass", "balanced_accuracy", {"mlp": 0.9})}
    html = build_report(make_run_folder(tmp_path / "a", study=study)).read_text()
    assert "No verdict on images: only deep learners ran" in html
    run = make_run_folder(tmp_path / "b")
    for name in ("trials", "scores", "curves", "fits"):  # a run stopped before any cell finished
        pd.read_parquet(run / f"{name}.parquet").iloc[:0].to_parquet(run / f"{name}.parquet")
    html = build_report(run).read_text()
    assert "No verdict on expression: no outer test scores were stored." in html


def test_outer_fit_seconds_from_fits_parquet_match_the_legacy_scores_column(tmp_path):
    a = analyse(load_run(make_run_folder(tmp_path / "a")))
    old = load_run(make_run_folder(tmp_path / "b", legacy=True))
    assert "config" in old.trials and "params" not in old.trials  # an older name, read as today's
    b = analyse(old)
    assert a.cost["refit_seconds"].sum() > 0
    assert a.cost["refit_seconds"].sum() == pytest.approx(b.cost["refit_seconds"].sum())
    mlp = a.cost[(a.cost["dataset"] == "digits") & (a.cost["learner"] == "mlp")].iloc[0]
    assert mlp["refit_seconds"] == pytest.approx(6 * 20.0)  # 3 folds x (default + tuned)


def test_missing_files_are_a_user_error(tmp_path):
    from benchmark.errors import ConfigError

    with pytest.raises(ConfigError, match="scores.parquet"):
        build_report(tmp_path)


def test_two_outer_folds_still_give_an_interval(tmp_path):
    run = make_run_folder(tmp_path, folds=2)
    a = analyse(load_run(run))
    c = a.verdicts["digits"].equal
    assert c.n_folds == 2 and math.isfinite(c.ci[0]) and c.ci[0] < c.mean < c.ci[1]
    assert "With only 2 outer folds the interval is wide." in build_report(run).read_text()


def test_across_datasets_drops_incomplete_learners(run_dir):
    a = analyse(load_run(run_dir))
    assert a.across.friedman is not None
    assert list(a.across.table.columns) == ["mlp", "random_forest", "xgboost"]
    assert a.across.dropped_learners == ["logreg"]  # not run on the regression dataset


# ------------------------------------------------------------------ tables on a tiny frame


def _tiny_scores() -> pd.DataFrame:
    rows = []
    for fold, (a, b, c) in enumerate([(0.80, 0.70, 0.90), (0.84, 0.72, np.nan), (0.82, 0.74, 0.88)]):
        for learner, fam, v in (("logreg", "classical", a), ("knn", "classical", b), ("mlp", "deep", c)):
            for config, shift in (("default", -0.05), ("tuned", 0.0)):
                rows.append(dict(dataset="d", outer_fold=fold, learner=learner, family=fam, config=config,
                                 metric="auroc", value=v + shift, trial=0, fit_seconds=1.0,
                                 error="boom" if np.isnan(v) else None))
    return pd.DataFrame(rows)


def test_score_summary_and_best_on_tiny_frame():
    s = tables.score_summary(_tiny_scores(), {"d": "auroc"})
    tuned = s[s["config"] == "tuned"].set_index("learner")
    assert tuned.at["logreg", "mean"] == pytest.approx(0.82)
    assert tuned.at["logreg", "sd"] == pytest.approx(0.02)
    assert tuned.at["mlp", "n_scored"] == 2 and not tuned.at["mlp", "scored"]
    assert tuned.at["mlp", "error"] == "boom"
    best = tables.best_learners(s).set_index(["config", "family"])
    assert best.at[("tuned", "classical"), "learner"] == "logreg"
    assert ("tuned", "deep") not in best.index  # mlp failed a fold: not eligible
    dvt = tables.default_vs_tuned(s).set_index("learner")
    assert dvt.at["knn", "gain"] == pytest.approx(0.05)


def test_budget_table_on_tiny_frame():
    t = pd.DataFrame(dict(dataset="d", outer_fold=0, learner=["a", "a", "a", "b", "b"],
                          family="classical", trial=[0, 1, 2, 0, 1],
                          state=["COMPLETE", "FAIL", "COMPLETE", "COMPLETE", "COMPLETE"],
                          seconds=[1.0, 2.0, 3.0, 0.5, 0.5], error=[None, "oom", None, None, None]))
    b = tables.budget_table(t).set_index("learner")
    assert b.loc["a", ["trials", "complete", "failed"]].tolist() == [3, 2, 1]
    assert b.at["a", "seconds"] == pytest.approx(6.0) and b.at["a", "top_error"] == "oom"
    assert not b["equal"].any() and b.at["b", "short"] and not b.at["a", "short"]


def test_cost_pareto_and_outer_curve_on_tiny_frames():
    tuned = pd.DataFrame(dict(dataset="d", learner=["a", "b", "c"], family="classical", metric="rmse",
                              mean=[1.0, 0.8, 1.2], scored=True))
    trials = pd.DataFrame(dict(dataset="d", learner=["a", "b", "c"], seconds=[1.0, 10.0, 5.0]))
    scores = pd.DataFrame(dict(dataset="d", outer_fold=0, learner=["a", "b", "c"], config="tuned",
                               fit_seconds=0.0))
    cost = tables.cost_table(trials, scores, tuned).set_index("learner")
    assert cost["pareto"].to_dict() == {"a": True, "b": True, "c": False}  # c: slower and worse than a
    curves = pd.DataFrame(dict(learner="a", outer_fold=[0, 0, 1], trial=[0, 2, 1],
                               value=[0.5, 0.7, 0.6]))
    c = tables.outer_curve(curves, {"a": 4})
    assert c["n"].tolist() == [1, 2, 3, 4]
    assert np.isnan(c["value"].iloc[0])  # fold 1 had no incumbent after one trial
    assert c["value"].iloc[1:].tolist() == pytest.approx([0.55, 0.65, 0.65])


def test_across_table_orients_and_drops_gaps_on_tiny_frame():
    tuned = pd.DataFrame(dict(dataset=["x", "x", "x", "y", "y", "z"],
                              learner=["a", "b", "c", "a", "b", "a"],
                              metric=["auroc"] * 3 + ["rmse"] * 2 + ["auroc"],
                              mean=[0.9, 0.8, 0.7, 1.0, 2.0, 0.5], scored=True))
    table, rows, cols = tables.across_table(tuned)
    assert rows == ["z"] and cols == ["c"]  # z has one learner, c one dataset
    assert table.loc["y"].tolist() == [-1.0, -2.0]  # rmse negated: higher is better everywhere


def test_verdict_wording_helpers():
    from benchmark.report import verdict

    assert verdict.cost_words(30.0, "classical") == "at 1/30 of the compute"
    assert verdict.cost_words(30.0, "deep") == "at 30× the compute"
    assert verdict.cost_words(1.2, "deep") == "at about the same compute"
    assert verdict.prob(0.9499) == "0.9499" and verdict.prob(0.08) == "0.08"
    assert verdict.prob(0.001) == "< 0.01"


# ------------------------------------------------------------------ in a real browser

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


class DevTools:
    """Chromium over ``--remote-debugging-pipe``: JSON messages ending in NUL on fds 3 and 4."""

    def __init__(self, exe: str, profile: Path):
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()

        def child_fds():
            a, b = os.dup(r_in), os.dup(w_out)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-extensions", "--hide-scrollbars", "--mute-audio", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", "--window-size=1400,4000", "about:blank"]
        self.proc = subprocess.Popen(args, pass_fds=(3, 4), preexec_fn=child_fds,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(r_in)
        os.close(w_out)
        self._w, self._r, self._buf, self._id, self.events = w_in, r_out, b"", 0, []
        self.session: str | None = None

    def open_tab(self, width: int = 1400, height: int = 4000) -> None:
        """A new page that later commands go to, with console, errors and load events on."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        reply = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = reply["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def load(self, path: Path, timeout: float = 120) -> None:
        self.send("Page.navigate", {"url": path.as_uri()})
        self.wait_for("Page.loadEventFired", timeout=timeout)

    def evaluate(self, expression: str):
        return self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})[
            "result"].get("value")

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if self.session and not method.startswith(("Target.", "Browser.")):
            msg["sessionId"] = self.session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._next(timeout)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            e = self._next(timeout)
            if e.get("method") == method:
                return e
            self.events.append(e)

    def _next(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._w, self._r):
            try:
                os.close(fd)
            except OSError:
                pass


PLOT_CHECK = """JSON.stringify(Array.from(document.querySelectorAll('div.plot')).map(el => ({
  id: el.id, svg: el.querySelectorAll('.main-svg').length, data: (el.data || []).length,
  traces: el.querySelectorAll('g.trace, g.hm').length,
  marks: el.querySelectorAll('path.point, path.js-line, g.hm image, g.textpoint text').length})))"""


def _errors(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = p.get("args", [])
            out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        elif e.get("method") == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append(p["entry"].get("text", ""))
    return out


@pytest.mark.browser
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make browser installs it)")
    path = build_report(run_dir)
    n_figures = path.read_text().count('class="plot"')
    browser = DevTools(CHROMIUM, tmp_path / "profile")
    try:
        browser.open_tab(1400, 4000)
        browser.load(path)
        plots = []
        for _ in range(50):  # newPlot is synchronous for these traces; allow a little slack
            plots = json.loads(browser.evaluate(PLOT_CHECK))
            if plots and all(p["svg"] and p["traces"] for p in plots):
                break
            time.sleep(0.2)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, timeout=120)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "report.png").write_bytes(base64.b64decode(shot["data"]))
        errors = _errors(browser.events)
        # control: the same listener must catch a console.error and an uncaught exception
        broken = tmp_path / "broken.html"
        broken.write_text("<script>console.error('seen'); undefinedFunction();</script>")
        browser.events.clear()
        browser.load(broken, timeout=60)
        browser.evaluate("1")  # a round trip, so events sent before it have arrived
        control = _errors(browser.events)
    finally:
        browser.close()
    assert any("seen" in e for e in control) and any("undefinedFunction" in e for e in control), control
    assert not errors, errors
    assert len(plots) == n_figures > 5
    empty = [p["id"] for p in plots if not (p["svg"] and p["data"] and p["traces"] and p["marks"])]
    assert not empty, f"figures drawn without data: {empty}"
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_tuning_table_names_what_the_tuned_configurations_read(tmp_path):
    run = make_run_folder(tmp_path)
    trials = pd.read_parquet(run / "trials.parquet")
    at = (trials["dataset"] == "digits") & (trials["learner"] == "logreg")
    reads = ["pool2" if k == 0 else "pixels" for k in trials.loc[at, "outer_fold"]]
    trials.loc[at, "config"] = [json.dumps({"C": 1.0, "representation": r}) for r in reads]
    trials.to_parquet(run / "trials.parquet", index=False)
    text = re.sub(r"<[^>]+>", " ", build_report(run).read_text())
    assert "flat pixels in 2 folds, 2x2 average-pooled pixels in 1 fold" in text


def test_across_datasets_warns_and_greys_posthoc_when_friedman_does_not_reject(run_dir):
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", build_report(run_dir).read_text()))
    assert "exact permutation p = " in text and "tie correction" in text
    assert "Only 3 datasets and 3 learners" in text
    assert "With 3 datasets no Wilcoxon signed-rank test can reach p &lt;= 0.05" in text
    assert "so the pairwise differences are not to be read" in text


def test_manifest_rows_show_the_population_the_run_chose():
    from benchmark.report import provenance

    m = {"config": {"resources": {"cpus_per_trial": 1, "population": None}}, "population": 8}
    rows = dict(provenance.manifest_rows(m))
    assert "population: 8 (chosen for the device)" in rows["resources"]
    m["config"]["resources"]["population"] = 4  # set by the study: shown as set
    assert "population: 4" in dict(provenance.manifest_rows(m))["resources"]
