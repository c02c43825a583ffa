"""Every learner may read every representation: the views behind it, the `representation`
parameter the harness adds to classical spaces, and a dataset where only position carries the
label, so reading k-mer counts alone would hand a sequence model an unearned win."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from benchmark import learners, metrics
from benchmark.data import generators, load_dataset, load_spec, views
from benchmark.data.dataset import Dataset
from benchmark.fitting import features, fit, predict
from benchmark.records import Cell
from benchmark.search import CellSettings, cell_space, run_cell
from benchmark.spaces import REPRESENTATION, load_space
from benchmark.splits import make_plan


def _dataset(modality: str, view_map: dict, n: int) -> Dataset:
    return Dataset(name="toy", task="binary", modality=modality, y=np.arange(n) % 2,
                   views=view_map, feature_names=[], classes=["0", "1"])


# ---------------------------------------------------------------- views

def test_sequences_offer_kmer_counts_of_three_k_and_the_flat_onehot():
    seqs = ["ACGTACGTAA", "GGGCCN", "TTTTTTTTT"]
    v, names = views.sequence_views(seqs, "dna", 3, None)
    assert set(v) == {"onehot", "tabular", "kmer1", "kmer2"} and len(names) == 64
    np.testing.assert_allclose(v["kmer1"], views.kmer_counts(seqs, "dna", 1))
    reps = views.representations("sequence", v)
    assert reps == {"kmer1": "kmer1", "kmer2": "kmer2", "kmer3": "tabular", "onehot": "onehot"}
    v5, _ = views.sequence_views(seqs, "dna", 5, None)  # the two k below the spec's, no more
    assert list(views.representations("sequence", v5)) == ["kmer3", "kmer4", "kmer5", "onehot"]
    v1, _ = views.sequence_views(seqs, "protein", 1, None)
    assert views.representations("sequence", v1) == {"kmer1": "tabular", "onehot": "onehot"}
    assert views.representations("tabular", {"tabular": np.zeros((3, 2))}) == {}


def test_pooling_averages_blocks_and_edge_blocks_average_what_they_hold():
    image = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    p = views.pooled(image, 2)
    assert p.shape == (1, 1, 3, 3) and p.dtype == np.float32
    assert p[0, 0, 0, 0] == np.mean([0, 1, 5, 6])
    assert p[0, 0, 0, 2] == np.mean([4, 9]) and p[0, 0, 2, 2] == 24
    # a pooled image keeps at least 4 cells a side: 8x8 digits get 2x2 pooling, 16x16 both
    assert set(views.image_views(np.zeros((2, 8, 8)))[0]) == {"image", "tabular", "pool2"}
    v, _ = views.image_views(np.random.default_rng(0).random((2, 16, 16, 3)))
    assert v["pool4"].shape == (2, 3, 4, 4)
    assert views.representations("image", v) == {"pixels": "tabular", "pool2": "pool2",
                                                  "pool4": "pool4"}
    assert views.label("pool2") == "2x2 average-pooled pixels" and views.label("kmer3") == "3-mer counts"


def test_flat_feature_spaces_gain_the_representation_with_trial_0_on_the_declared_view():
    v, _ = views.sequence_views(["ACGTAC"] * 4, "dna", 3, None)
    seq = _dataset("sequence", v, 4)
    space = cell_space(load_space("svm"), learners.get("svm"), seq)
    assert space.params[REPRESENTATION].choices == ["kmer1", "kmer2", "kmer3", "onehot"]
    assert space.default_params()[REPRESENTATION] == "kmer3"
    assert space.default_config()[REPRESENTATION] == "kmer3"
    assert REPRESENTATION not in load_space("svm").params  # the loaded space is left alone
    image = _dataset("image", views.image_views(np.zeros((4, 8, 8)))[0], 4)
    assert cell_space(load_space("knn"), learners.get("knn"), image).default[REPRESENTATION] == "pixels"
    tab = _dataset("tabular", {"tabular": np.zeros((4, 3))}, 4)
    for name, data in [("logreg", tab), ("mlp", tab), ("cnn1d", seq), ("cnn2d", image)]:
        assert cell_space(load_space(name), learners.get(name), data) == load_space(name)
    for name, data in [("mlp", seq), ("resnet", image)]:  # deep learners on flat features too
        assert REPRESENTATION in cell_space(load_space(name), learners.get(name), data).params
    fixed = load_space("logreg").model_copy(update={"fixed": {REPRESENTATION: "onehot"}})
    assert cell_space(fixed, learners.get("logreg"), seq) is fixed
    # a representation is read flat, and the one-hot sequence is not copied to be flattened
    X = features(learners.get("logreg"), {REPRESENTATION: "onehot"}, seq)
    assert X.shape == (4, 24) and np.shares_memory(X, seq.views["onehot"])
    assert features(learners.get("logreg"), {}, seq) is seq.views["tabular"]
    with pytest.raises(ValueError, match="not offered"):
        features(learners.get("logreg"), {REPRESENTATION: "pixels"}, seq)


# ---------------------------------------------------------------- position matters

@pytest.fixture(scope="module")
def position(tmp_path_factory):
    folder = tmp_path_factory.mktemp("position")
    spec = {"name": "position", "task": "binary", "modality": "sequence", "target": "target",
            "source": {"kind": "generated", "generator": "motif_position"},
            "sequence": {"column": "sequence", "alphabet": "dna", "k": 3},
            "metadata": ["position"], "provenance": {"source": "generated"}}
    (folder / "position.yaml").write_text(yaml.safe_dump(spec))
    data = load_dataset(load_spec(folder / "position.yaml"), n_folds=3)
    plan = make_plan(data.name, data.y, None, seed=0, outer_folds=3, inner="holdout",
                     holdout_fraction=0.2)
    return data, plan


def test_position_dataset_plants_one_motif_each_and_only_its_place_differs():
    frame = generators.motif_position(n_samples=40, seed=1)
    assert (frame["sequence"].str.len() == 100).all() and set(frame["target"]) == {"at_site", "elsewhere"}
    at = frame["target"] == "at_site"
    assert frame["position"][at].between(28, 32).all()
    assert ((frame["position"][~at] - 30).abs() >= 8).all()
    with pytest.raises(ValueError, match="must fit"):
        generators.motif_position(length=20, position=18)


def _outer_auroc(module, config, data, plan) -> float:
    scores = []
    for fold in plan.folds:
        model = fit(module, config, data, fold.train, 0, 1)
        pred = predict(model, features(module, config, data)[fold.test], data.task, 2)
        scores.append(metrics.score("binary", "auroc", data.y[fold.test], pred))
    return float(np.mean(scores))


def test_logistic_regression_on_the_flat_onehot_sees_what_kmer_counts_cannot(position):
    data, plan = position
    module, default = learners.get("logreg"), load_space("logreg").default_config()
    onehot = _outer_auroc(module, {**default, REPRESENTATION: "onehot"}, data, plan)
    kmers = {k: _outer_auroc(module, {**default, REPRESENTATION: f"kmer{k}"}, data, plan)
             for k in (1, 2, 3)}
    assert onehot > 0.8 and max(kmers.values()) < 0.6, (onehot, kmers)


def test_an_equal_budget_search_finds_the_onehot_view_and_resumes_on_it(position):
    data, plan = position
    cell, fold = Cell("position", 0, "logreg"), plan.folds[0]
    settings = CellSettings(task="binary", metric="auroc", trials=10, seconds=None, seed=0,
                            n_startup_trials=3)
    events = list(run_cell(cell, data, fold, load_space("logreg"), settings))
    trials, outer = events[:-1], events[-1]
    assert trials[0].params[REPRESENTATION] == "kmer3"  # trial 0: the declared view
    assert all(REPRESENTATION in t.distributions for t in trials)  # stored with the trial
    tuned, default = outer.tuned, outer.default
    assert tuned.config[REPRESENTATION] == "onehot"  # the report names it from here
    assert tuned.scores["auroc"] > default.scores["auroc"] + 0.25
    assert outer.controls and all(c.error is None for c in outer.controls)
    # resuming from stored trials replays the representation and proposes the same trials
    resumed = list(run_cell(cell, data, fold, load_space("logreg"), settings, trials[:5]))
    assert [t.params for t in resumed[:-1]] == [t.params for t in trials[5:]]
    assert resumed[-1].tuned.config == tuned.config


def test_a_fixed_representation_is_read_as_written(position):
    data, plan = position
    space = load_space("logreg")
    space = space.model_copy(update={"fixed": {**space.fixed, REPRESENTATION: "onehot"}})
    settings = CellSettings(task="binary", metric="auroc", trials=2, seconds=None, seed=0,
                            controls=0)
    events = list(run_cell(Cell("position", 0, "logreg"), data, plan.folds[0], space, settings))
    assert all(REPRESENTATION not in e.params for e in events[:-1])
    assert events[-1].default.config[REPRESENTATION] == "onehot"
    assert events[-1].default.scores["auroc"] > 0.8
