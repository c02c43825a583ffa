"""The command line: bad input gets one clear message (exit 2) before any compute starts."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from helpers import cli, write_csv_dataset, write_dataset, write_study


def test_list_names_bundled_things():
    res = cli("list")
    assert res.returncode == 0
    for word in ("quick", "full", "breast_cancer", "digits", "expression", "dna_motifs", "xgboost", "mlp"):
        assert word in res.stdout


def test_validate_bundled_quick_study():
    res = cli("validate", "quick")
    assert res.returncode == 0, res.stderr
    assert re.match(r"quick: OK\. 4 datasets, \d+ learners, \d+ cells x \d+ trials\.", res.stdout)
    for name in ("breast_cancer", "dermatology", "promoters", "breastmnist"):  # each says its metric
        assert re.search(rf"^  {name}: \d+ rows x \d+ features .*; primary metric [\w ,-]+ \(metric: "
                         "auto; the smallest class", res.stdout, re.M), res.stdout
    assert "the file's own split (train 546, val 78, test 156 images) was merged" in res.stdout
    # the one warning is true: BreastMNIST holds one image twice with two labels
    warnings = [line for line in res.stdout.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "conflicting duplicates: 1 image" in warnings[0], warnings


def test_validate_says_where_a_family_is_missing_and_the_verdict_with_it(tmp_path):
    study = write_study(tmp_path, ["breast_cancer"], ["logreg", "cnn2d"], trials=2, folds=2)
    res = cli("validate", str(study))
    assert res.returncode == 0, res.stderr
    assert re.match(r"\w+: OK\. 1 dataset, 2 learners, 2 cells x 2 trials\.", res.stdout)
    assert "skipped cnn2d on breast_cancer" in res.stdout
    assert "note: no deep learner runs on breast_cancer, so it gets no verdict" in res.stdout
    assert "quick: OK" not in res.stdout and "no classical" not in res.stdout
    assert "note: no" not in cli("validate", "quick").stdout  # both families on every dataset


def _dataset(tmp_path, name, frame, **spec):
    return write_dataset(tmp_path, name, frame, **spec).name


def test_every_problem_is_reported_at_once_before_compute(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    no_target = _dataset(tmp_path, "no_target", pd.DataFrame({"x": x, "y": x > 0}))
    typo = _dataset(tmp_path, "typo", pd.DataFrame({"x": x, "sex": "f", "diagnosis": x > 0}),
                    target="diagnosys")
    one_class = _dataset(tmp_path, "one_class", pd.DataFrame({"x": x, "label": 1}))
    rare = _dataset(tmp_path, "rare", pd.DataFrame({"x": x, "label": [1] * 2 + [0] * 38}))
    bad_space = tmp_path / "svm.yaml"
    bad_space.write_text("learner: svm\nsource: t\nparams:\n  C: {type: float, low: 0, high: 10, log: true}\n"
                         "  gamma: {type: float, low: 5, high: 1}\n")
    study = write_study(tmp_path, [no_target, one_class, rare, typo, "no_such_dataset",
                                   "gone.yaml"],
                        ["logreg", "svm", "deep_forest"], folds=3, trials=-3,
                        extra="spaces: {svm: svm.yaml}\ncolour: blue\n")
    out = tmp_path / "run"
    res = cli("run", str(study), "--out", str(out))
    assert res.returncode == 2
    err = res.stderr
    assert "Traceback" not in err
    expected = [
        ("learners[2]", "deep_forest"),  # unknown learner
        ("no_such_dataset", "datasets"),  # unknown dataset
        ("params.C", "low > 0"),  # log range with low <= 0
        ("params.gamma", "low <= high"),  # low > high
        ("no_target.yaml", "label"),  # missing target column
        ("one_class.yaml", "two classes"),  # a single class
        ("rare.yaml", "3"),  # fewer samples in a class than folds
        ("budget.trials", "at least 1"),  # a schema error hides nothing else
        ("colour", "remove or rename the key"),  # an unknown key
        ("typo.yaml: target", "did you mean diagnosis?"),  # a close match is offered
        ("datasets[5]", "gone.yaml"),  # a dataset YAML that does not exist, named by its key
    ]
    for where, what in expected:
        line = next((l for l in err.splitlines() if where in l), None)
        assert line is not None, f"no message names {where}:\n{err}"
        assert what in line, line
    assert not out.exists(), "nothing may be computed or written on bad input"
    bad_features = next(l for l in err.splitlines() if "typo.yaml: categorical" in l)
    assert "sex" in bad_features and "diagnosis" not in bad_features  # the label is no feature


def test_bad_trials_on_the_command_line_is_refused_before_compute(tmp_path):
    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["naive_bayes"])
    out = tmp_path / "run"
    res = cli("run", str(study), "--out", str(out), "--trials", "0")
    assert res.returncode == 2 and "--trials: must be at least 1" in res.stderr, res.stderr
    assert not out.exists()


def test_validate_reports_a_good_user_dataset(tmp_path):
    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["logreg", "cnn2d"])
    res = cli("validate", str(study))
    assert res.returncode == 0, res.stderr
    assert "skipped cnn2d on toy" in res.stdout


def test_resuming_a_different_study_in_the_same_folder_is_refused(tmp_path):
    ds = write_csv_dataset(tmp_path)
    study = write_study(tmp_path, [ds.name], ["naive_bayes"], trials=2)
    out = tmp_path / "run"
    assert cli("run", str(study), "--out", str(out), "--no-report").returncode == 0
    res = cli("run", str(study), "--out", str(out), "--trials", "3", "--no-report")
    assert res.returncode == 2 and "resumes only the study that made it" in res.stderr
    assert "budget.trials: 2 -> 3" in res.stderr and "ETA" not in res.stdout + res.stderr
    assert json.loads((out / "manifest.json").read_text())["config"]["budget"]["trials"] == 2
