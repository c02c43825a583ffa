"""Search spaces: every bundled YAML loads, defaults are sane, bad ranges are refused clearly;
every classical learner fits on every representation the harness may hand it."""
import numpy as np
import optuna
import pytest

from benchmark import learners
from benchmark.data import generators, views
from benchmark.data.dataset import Dataset
from benchmark.errors import ConfigError
from benchmark.spaces import load_space


@pytest.mark.parametrize("name", learners.ALL)
def test_bundled_space_loads(name):
    space = load_space(name)
    assert space.source.strip(), "every space says where its ranges come from"
    dists = space.distributions()
    assert dists
    # the default configuration names only known settings, and most of it lies in the space
    inside = space.default_params()
    assert set(space.default) <= set(dists) | set(space.fixed)
    assert len(inside) >= len(space.default) - 1


@pytest.mark.parametrize("name", learners.ALL)
def test_bundled_learner_module_contract(name):
    module = learners.get(name)
    assert module.NAME == name
    assert module.FAMILY in {"classical", "deep"}
    assert set(module.TASKS) <= {"binary", "multiclass", "regression"}
    assert set(module.VIEWS) <= {"tabular", "sequence", "image"}
    assert (name in learners.DEEP) == (module.FAMILY == "deep")


def _write(tmp_path, text):
    p = tmp_path / "logreg.yaml"
    p.write_text(text)
    return p


def test_low_above_high_is_refused(tmp_path):
    p = _write(tmp_path, "learner: logreg\nsource: x\nparams:\n  C: {type: float, low: 10, high: 1}\n")
    with pytest.raises(ConfigError) as exc:
        load_space("logreg", p)
    msg = str(exc.value)
    assert str(p) in msg and "params.C" in msg and "low <= high" in msg and "low=10" in msg


def test_log_with_nonpositive_low_is_refused(tmp_path):
    p = _write(tmp_path, "learner: logreg\nsource: x\nparams:\n  C: {type: float, low: 0, high: 1, log: true}\n")
    with pytest.raises(ConfigError, match="low > 0"):
        load_space("logreg", p)


def test_all_problems_reported_together(tmp_path):
    p = _write(tmp_path, "learner: logreg\nsource: x\nparams:\n"
               "  C: {type: float, low: 0, high: 1, log: true}\n"
               "  k: {type: int, low: 5, high: 1}\n  z: {type: categorical}\n  typo_key: 3\n")
    with pytest.raises(ConfigError) as exc:
        load_space("logreg", p)
    where = " ".join(pr.where for pr in exc.value.problems)
    assert "params.C" in where and "params.k" in where and "params.z" in where


def test_defaults_outside_the_range_stay_out_of_the_sampler(tmp_path):
    p = _write(tmp_path, "learner: logreg\nsource: x\nparams:\n"
               "  C: {type: float, low: 0.01, high: 100, log: true}\n"
               "  w: {type: categorical, choices: [null, balanced]}\n"
               "fixed: {max_iter: 50}\ndefault: {C: 1000.0, w: null}\n")
    space = load_space("logreg", p)
    assert space.default_params() == {"w": None}
    assert space.default_config() == {"max_iter": 50, "C": 1000.0, "w": None}
    assert isinstance(space.distributions()["C"], optuna.distributions.FloatDistribution)


def test_knn_k_above_the_training_rows_means_every_row():
    """A small inner split must not fail kNN's trials for a k the range allows elsewhere."""
    from benchmark.learners import knn

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(48, 3)), np.arange(48) % 2
    big, every = (knn.build({"n_neighbors": k, "weights": "distance", "p": 2}, "binary", 0, 1)
                  for k in (49, 48))
    np.testing.assert_array_equal(big.fit(X, y).predict_proba(X[:5]),
                                  every.fit(X, y).predict_proba(X[:5]))


def _modalities():
    """A small binary dataset of each modality, with every view the harness builds."""
    rng = np.random.default_rng(0)
    frame = generators.motif_position(n_samples=60, length=30, position=10, seed=0)
    y = (frame["target"] == "at_site").to_numpy().astype(np.int64)
    seq, _ = views.sequence_views(frame["sequence"].tolist(), "dna", 3, None)
    image, _ = views.image_views(rng.random((60, 16, 16)))
    tab = {"tabular": rng.normal(size=(60, 5))}
    return [Dataset(name=m, task="binary", modality=m, y=y, views=v, feature_names=[],
                    classes=["0", "1"]) for m, v in
            [("tabular", tab), ("sequence", seq), ("image", image)]]


@pytest.mark.parametrize("name", learners.CLASSICAL)
def test_every_classical_learner_fits_every_representation_of_every_modality(name):
    """The harness may hand a classical learner any representation its search space offers."""
    from benchmark.fitting import features, fit, predict
    from benchmark.search import cell_space
    from benchmark.spaces import REPRESENTATION

    module, space = learners.get(name), load_space(name)
    train, test = np.arange(40), np.arange(40, 60)
    for data in _modalities():
        cell = cell_space(space, module, data)
        choices = cell.params[REPRESENTATION].choices if REPRESENTATION in cell.params else [None]
        assert (choices == [None]) == (data.modality == "tabular")
        for rep in choices:
            config = cell.default_config() if rep is None else {**cell.default_config(),
                                                                REPRESENTATION: rep}
            model = fit(module, config, data, train, 0, 1)
            pred = predict(model, features(module, config, data)[test], "binary", 2)
            assert pred.shape == (20, 2) and np.isfinite(pred).all(), (data.modality, rep)
