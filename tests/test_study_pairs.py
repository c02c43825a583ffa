"""Which (dataset, learner) pairs a study runs, and how many trials each cell gets: a learner
limited by ``only`` skips the other datasets with the reason said; a learner with nothing to tune
runs trial 0 once per cell and the report says "no hyper-parameters", not "short"."""
from __future__ import annotations

import pytest

from benchmark import results
from benchmark.errors import ConfigError
from benchmark.report import build_report
from benchmark.runner import execute, prepare

from helpers import write_csv_dataset, write_study


@pytest.fixture(scope="module")
def fixed_run(ray_local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pairs")
    ds = write_csv_dataset(folder)
    (folder / "nb_fixed.yaml").write_text(
        "learner: naive_bayes\nsource: the library default only\nparams: {}\n")
    study = write_study(folder, [ds.name, "breast_cancer"], ["logreg", "naive_bayes", "knn"],
                        trials=3, extra="spaces: {naive_bayes: nb_fixed.yaml}\n"
                                        "only: {knn: [breast_cancer]}\n")
    plan = prepare(str(study))
    out = tmp_path_factory.mktemp("run")
    execute(plan, out)
    return plan, out, "toy"


def test_only_limits_a_learner_to_the_named_datasets(fixed_run):
    plan, out, toy = fixed_run
    trials, _, manifest = results.load(out)
    assert set(trials[trials.learner == "knn"].dataset) == {"breast_cancer"}
    assert [toy, "knn", "the study runs it only on breast_cancer"] in manifest["skipped"]


def test_a_learner_with_nothing_to_tune_runs_trial_zero_once_per_cell(fixed_run):
    plan, out, toy = fixed_run
    trials, scores, manifest = results.load(out)
    counts = trials.groupby(["learner", "dataset", "outer_fold"]).trial.count()
    assert (counts["naive_bayes"] == 1).all() and (counts["logreg"] == 3).all()
    assert sorted(map(tuple, manifest["no_hyperparameters"])) == [
        ("breast_cancer", "naive_bayes"), (toy, "naive_bayes")]
    nb = scores[scores.learner == "naive_bayes"]
    assert set(nb.config) == {"default", "tuned"}  # tuned is trial 0: the same model
    html = build_report(out).read_text()
    assert "no hyper-parameters" in html
    assert "Unequal budget" not in html and "Equal budget" in html


def test_only_must_name_learners_and_datasets_of_the_study(tmp_path):
    study = write_study(tmp_path, ["breast_cancer"], ["logreg"],
                        extra="only: {knn: [breast_cancer], logreg: [digits]}\n")
    with pytest.raises(ConfigError) as err:
        prepare(str(study))
    text = str(err.value)
    assert "only.knn" in text and "must name a learner of the study" in text
    assert "only.logreg[0]" in text and "'digits'" in text
