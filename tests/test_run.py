"""The backbone end to end through real Ray: exact budgets, default first, shared splits, resume."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from benchmark import results
from benchmark.runner import execute, prepare
from benchmark.spaces import load_space

from helpers import write_csv_dataset, write_study


@pytest.fixture(scope="module")
def tiny_study_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    ds = write_csv_dataset(folder)
    return write_study(folder, [ds.name, "breast_cancer"], ["logreg", "naive_bayes", "knn", "mlp"])


@pytest.fixture(scope="module")
def finished_run(ray_local, tiny_study_file, tmp_path_factory):
    plan = prepare(str(tiny_study_file))
    out = tmp_path_factory.mktemp("run")
    execute(plan, out)
    return plan, out


def test_every_cell_gets_exactly_its_budget(finished_run):
    plan, out = finished_run
    trials, scores, manifest = results.load(out)
    counts = trials.groupby(["dataset", "outer_fold", "learner"]).trial.agg(["count", "nunique", "max"])
    assert len(counts) == len(plan.cells()) == 2 * 4 * 2
    assert (counts["count"] == 4).all() and (counts["nunique"] == 4).all() and (counts["max"] == 3).all()
    assert set(scores.config) == {"default", "tuned"}
    assert manifest["status"] == "complete"


def test_trial_zero_is_the_library_default(finished_run):
    plan, out = finished_run
    trials, _, _ = results.load(out)
    for learner, rows in trials[trials.trial == 0].groupby("learner"):
        expected = load_space(learner).default_config()
        for config in rows.config:
            assert json.loads(config) == json.loads(json.dumps(expected))


def test_every_trial_used_the_plan_indices(finished_run):
    plan, out = finished_run
    trials, _, manifest = results.load(out)
    for (dataset, fold), rows in trials.groupby(["dataset", "outer_fold"]):
        assert set(rows.split_sha256) == {plan.splits[dataset].inner_digest(fold)}
        assert rows.learner.nunique() == 4  # every learner, the same indices
        saved = json.loads((out / "splits" / f"{dataset}.json").read_text())
        assert saved["sha256"] == manifest["datasets"][dataset]["split_sha256"]


def test_group_never_straddles_train_and_test(finished_run):
    plan, out = finished_run
    toy = plan.datasets["toy"]
    for fold in plan.splits["toy"].folds:
        assert not set(toy.groups[fold.train]) & set(toy.groups[fold.test])


def test_manifest_records_what_reproduces_the_run(finished_run):
    _, out = finished_run
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("config", "seed", "versions", "git_commit", "hardware", "datasets", "config_hash"):
        assert key in manifest
    assert manifest["versions"]["optuna"] and manifest["versions"]["torch"]
    assert all(d["sha256"] and d["split_sha256"] for d in manifest["datasets"].values())


def test_rerun_resumes_without_new_trials(finished_run):
    plan, out = finished_run
    before = pd.read_parquet(out / "trials.parquet")
    execute(plan, out)
    after = pd.read_parquet(out / "trials.parquet")
    pd.testing.assert_frame_equal(before, after)


def test_same_seed_gives_identical_scores(ray_local, tiny_study_file, tmp_path, finished_run):
    _, first = finished_run
    second = tmp_path / "again"
    execute(prepare(str(tiny_study_file)), second)
    timed = {"trials.parquet", "fits.parquet"}  # their seconds differ; their scores are in scores
    tables = sorted(p.name for p in first.glob("*.parquet") if p.name not in timed)
    assert {"scores.parquet", "subgroups.parquet", "controls.parquet"} <= set(tables)
    for name in tables:  # the same rows in the same order, not only the same numbers
        pd.testing.assert_frame_equal(pd.read_parquet(first / name),
                                      pd.read_parquet(second / name), obj=name)
