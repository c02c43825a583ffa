"""The bundled biology suite: real datasets that load from the repository alone, with their
provenance; the `bio` study over them; and, where the public collection they came from is at
hand (../shared/datasets), byte-for-byte agreement with it and the recipes for the datasets the
project may not redistribute."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from benchmark import learners, paths
from benchmark.data import load_dataset, load_spec
from benchmark.runner import prepare

from helpers import SHARED, cli

# name -> (rows, modality, class counts by class name, primary metric, source folder in the collection)
BUNDLED = {
    "dermatology": (366, "tabular", {"1": 112, "2": 61, "3": 72, "4": 49, "5": 52, "6": 20},
                    "balanced_accuracy", "dermatology"),
    "yeast": (1479, "tabular", {"0": 244, "1": 429, "2": 463, "3": 44, "4": 35, "5": 51, "6": 163,
                                "7": 30, "8": 20}, "balanced_accuracy", "yeast"),
    "promoters": (106, "sequence", {"-": 53, "+": 53}, "auroc", "promoters_uci"),
    "breastmnist": (780, "image", {"1": 570, "0": 210}, "auroc", "breastmnist"),
}
EXTERNAL = {"colon_alon": (62, {"normal": 22, "tumor": 40}), "hiv_v3_tropism": (1351, {"R5": 1151, "X4": 200}),
            "amp_iamp2l": (3284, {"non_AMP": 2405, "AMP": 879})}
BUILD = paths.DATASETS / "external" / "build.py"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="the public dataset collection "
                                  "(../shared/datasets) is not here")


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_dataset_loads_from_the_repository_with_its_provenance(name):
    rows, modality, counts, _, _ = BUNDLED[name]
    spec = load_spec(name)
    data = load_dataset(spec, n_folds=5)  # checks the file's sha256 against the YAML's
    assert (data.n_samples, data.modality) == (rows, modality)
    assert data.profile()["class_counts"] == counts
    p = spec.provenance
    assert p.sha256 and p.citation and p.source and p.license and "not stated" not in p.license
    assert (paths.DATASETS / spec.source.path).stat().st_size < 1_000_000  # compressed and small
    if spec.task == "binary":
        assert spec.positive == data.classes[-1]  # the class named positive is scored as positive


def test_bundled_files_are_small_together_and_each_is_listed_in_the_readme():
    readme = (paths.DATASETS / "README.md").read_text()
    files = [paths.DATASETS / load_spec(n).source.path for n in BUNDLED]
    assert sum(f.stat().st_size for f in files) < 3_000_000
    for name in BUNDLED:
        assert re.search(rf"^\| `{name}` \|", readme, flags=re.M), name
    for name in EXTERNAL:
        assert f"python datasets/external/build.py {name}" in readme


def test_bio_study_runs_every_bundled_real_dataset_with_every_learner_on_repeated_folds():
    plan = prepare("bio")
    assert set(BUNDLED) <= set(plan.datasets) and "breast_cancer" in plan.datasets
    assert not {"expression", "dna_motifs", "digits"} & set(plan.datasets)  # generated and toy sets stay out
    assert set(plan.study.learners) == set(learners.ALL)  # every learner of the registry
    assert plan.study.splits.repeats >= 2 and plan.study.splits.outer_folds >= 5
    assert {name: plan.metrics[name] for name in BUNDLED} == {n: v[3] for n, v in BUNDLED.items()}
    ran = {(d, l) for d, l in plan.pairs}
    assert {("breastmnist", "cnn2d"), ("breastmnist", "resnet2d"), ("promoters", "cnn1d")} <= ran
    assert all((d, "mlp") in ran for d in plan.datasets)


def test_validate_prints_what_to_look_at_in_each_bundled_dataset():
    res = cli("validate", "bio")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "bio: OK." in out
    assert "'vac' = 0 in 1 row" in out and "31 rows repeat an earlier row's features" in out  # yeast
    assert "conflicting duplicates: 1 image found with different labels" in out  # breastmnist
    assert "the file's own split (train 546, val 78, test 156 images) was merged" in out


# ------------------------------------------------------------------ against the public collection


@needs_shared
@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_file_is_the_collections_file_and_its_licence_allows_it(name):
    spec = load_spec(name)
    meta = json.loads((SHARED / BUNDLED[name][4] / "metadata.json").read_text())
    assert spec.provenance.sha256 in {f["sha256"] for f in meta["files"].values()}
    assert "CC BY 4.0" in meta["license"] and "not stated" not in meta["license"].split(";")[-1]
    assert meta["n_samples"] == BUNDLED[name][0]


@needs_shared
@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_left_out_dataset_has_no_stated_licence_and_its_recipe_rebuilds_it(name, tmp_path):
    meta = json.loads((SHARED / name / "metadata.json").read_text())
    assert "not stated" in meta["license"]
    script = tmp_path / "build.py"
    shutil.copy(BUILD, script)
    shutil.copy(BUILD.with_name(f"{name}.yaml"), tmp_path)
    res = subprocess.run([sys.executable, str(script), name, "--from", str(SHARED / name / "raw")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    data = load_dataset(load_spec(tmp_path / f"{name}.yaml"), n_folds=5)  # sha256 checked
    rows, counts = EXTERNAL[name]
    assert data.n_samples == rows == meta["n_samples"] and data.profile()["class_counts"] == counts
    built = pd.read_csv(tmp_path / f"{name}.csv")
    theirs = pd.read_csv(SHARED / name / "data.csv.gz")
    assert (built["target"].to_numpy() == theirs["target"].to_numpy()).all()
    if name == "colon_alon":
        genes = [c for c in theirs if c.startswith("g")]
        assert np.array_equal(built[genes].to_numpy(), theirs[genes].to_numpy())
        assert (built["patient_id"] == theirs["patient_id"]).all() and "tissue_code" not in built
    else:
        assert (built["sequence"] == theirs["sequence"]).all()


@needs_shared
def test_recipe_refuses_a_source_file_that_is_not_the_pinned_one(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(SHARED / "hiv_v3_tropism" / "raw", raw)
    (raw / "classes.txt").write_text("0\n" * 1351)
    res = subprocess.run([sys.executable, str(BUILD), "hiv_v3_tropism", "--from", str(raw)],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "classes.txt: sha256" in res.stderr and "Fix:" in res.stderr
    digest = hashlib.sha256((raw / "classes.txt").read_bytes()).hexdigest()
    assert digest in res.stderr
