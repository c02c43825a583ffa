"""One contract for every registered learner, on every task it declares, on about 40 rows:
fit (early-stopped on a validation split where the learner uses one, then refit for the epoch
count found there), predictions of the right shape, the same seed giving the same predictions,
``sklearn.base.clone``, and a clear error for a view it does not read. Also the registry itself
(derived from the modules) and search spaces that are empty."""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
from sklearn.base import clone

from benchmark import learners
from benchmark.spaces import load_space

N = 40
# Fewer epochs and narrower nets than the defaults: the contract, not the model, is under test.
FAST = {"max_epochs": 2, "batch_size": 16, "device": "cpu"}
SMALL = {"tabm": {"d_block": 32, "k": 4}, "realmlp": {"hidden_width": 32},
         "mlp_plr": {"width": 16, "d_embedding": 4, "n_frequencies": 8},
         "resnet2d": {"channels": 4}, "cnn1d_dilated": {"channels": 8},
         "cnn2d": {"channels": 4}, "cnn1d": {"channels": 8}, "resnet": {"d_main": 16},
         "mlp": {"width": 16}, "catboost": {"iterations": 60}, "lightgbm": {"n_estimators": 60},
         "random_forest": {"n_estimators": 20}}
TRAIN, VAL = np.arange(26), np.arange(26, 34)


def _onehot(rng) -> np.ndarray:
    X = np.zeros((N, 24, 4), dtype=np.float32)
    for i, L in enumerate(rng.integers(8, 25, N)):  # variable lengths: trailing zero rows pad
        X[i, np.arange(L), rng.integers(0, 4, L)] = 1.0
    return X


def _views() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    tab = rng.normal(size=(N, 6))
    tab[rng.random(tab.shape) < 0.05] = np.nan
    return {"tabular": tab, "onehot": _onehot(rng),
            "image": rng.random((N, 1, 8, 8)).astype(np.float32)}


def _target(task: str, X: np.ndarray) -> np.ndarray:
    signal = np.nan_to_num(X.reshape(N, -1)[:, :3]).sum(1)
    if task == "regression":
        return 2.0 * signal + np.random.default_rng(1).normal(size=N)
    if task == "binary":
        return (signal > np.median(signal)).astype(np.int64)
    return np.arange(N) % 3  # every class in every split


def _config(name: str) -> dict:
    module, space = learners.get(name), load_space(name)
    config = {**space.default_config(), **SMALL.get(name, {})}
    if module.FAMILY == "deep":
        config.update(FAST)
    return config


def _predict(est, X, task):
    return est.predict(X) if task == "regression" else est.predict_proba(X)


def _fit(module, est, X, y):
    if getattr(module, "USES_VALIDATION", False):
        return est.fit(X[TRAIN], y[TRAIN], eval_set=(X[VAL], y[VAL]))
    return est.fit(X[TRAIN], y[TRAIN])


CASES = [(name, task) for name in learners.ALL for task in learners.get(name).TASKS]


@pytest.mark.parametrize("name,task", CASES)
def test_learner_contract(name, task):
    module = learners.get(name)
    views = _views()
    view = next(iter(module.VIEWS.values()))  # the tabular view for a learner of flat features
    X = views[view]
    y = _target(task, X)
    config = _config(name)
    est = module.build(config, task, 7, 1)
    twin = clone(est)
    assert twin.get_params().keys() == est.get_params().keys()

    _fit(module, est, X, y)
    pred = _predict(est, X, task)
    if task == "regression":
        assert pred.shape == (N,) and np.isfinite(pred).all()
    else:
        k = len(np.unique(y[TRAIN]))
        assert pred.shape == (N, k) and np.isfinite(pred).all()
        np.testing.assert_allclose(pred.sum(axis=1), 1.0, rtol=1e-6)
        assert set(est.predict(X)) <= set(np.unique(y[TRAIN]))

    # same seed, same predictions (a clone is a fresh, unfitted copy with the same parameters)
    np.testing.assert_array_equal(_predict(_fit(module, twin, X, y), X, task), pred)

    if getattr(module, "USES_VALIDATION", False):  # the harness's refit: the count found, no eval
        epochs = est.best_epoch_
        assert isinstance(epochs, (int, np.integer)) and epochs >= 1
        refit = module.build({**config, "max_epochs": int(epochs)}, task, 7, 1)
        refit.fit(X[np.r_[TRAIN, VAL]], y[np.r_[TRAIN, VAL]])
        assert _predict(refit, X, task).shape == pred.shape

    wrong = views["onehot"] if view != "onehot" else views["tabular"]
    with pytest.raises((ValueError, TypeError)) as exc:
        module.build(config, task, 7, 1).fit(wrong[TRAIN], y[TRAIN])
    assert any(w in str(exc.value).lower() for w in ("shape", "dim")), str(exc.value)


def test_registry_is_derived_from_the_modules():
    """Every learner module is registered once, in its family, with a search space; nothing
    else lists learners."""
    names = sorted(m.name for m in pkgutil.iter_modules(learners.__path__)
                   if not m.name.startswith("_"))
    assert sorted(learners.ALL) == names
    assert learners.ALL == learners.CLASSICAL + learners.DEEP
    for name in names:
        module = importlib.import_module(f"benchmark.learners.{name}")
        assert (name in learners.DEEP) == (module.FAMILY == "deep")
        assert load_space(name).learner == name
    learners.ALL.append("not_a_learner")  # callers get copies
    assert "not_a_learner" not in learners.ALL
    with pytest.raises(KeyError):
        learners.get("not_a_learner")


def test_a_module_that_breaks_the_contract_is_named():
    from types import SimpleNamespace

    bad = SimpleNamespace(NAME="x", FAMILY="quantum", VIEWS={"tabular": "pixels"},
                          TASKS=["ranking"], build=None)
    problems = " ".join(learners._contract_problems("y", bad))
    for word in ("NAME", "FAMILY", "TASKS", "VIEWS"):
        assert word in problems


def test_an_empty_search_space_is_trial_0_only(tmp_path):
    """A learner without tunable settings: its space loads, and its only configuration is the
    library default (the harness must not spend its budget repeating it)."""
    path = tmp_path / "naive_bayes.yaml"
    path.write_text("learner: naive_bayes\nsource: library default only\nparams: {}\n"
                    "fixed: {}\ndefault: {var_smoothing: 1.0e-9}\n")
    space = load_space("naive_bayes", path)
    assert space.distributions() == {} and space.default_params() == {}
    assert space.default_config() == {"var_smoothing": 1.0e-9}


def test_lightgbm_and_catboost_refit_grow_the_rounds_found():
    X, views = None, _views()
    X = views["tabular"]
    y = _target("binary", X)
    for name in ("lightgbm", "catboost"):
        module = learners.get(name)
        est = module.build(_config(name), "binary", 0, 1).fit(
            X[TRAIN], y[TRAIN], eval_set=(X[VAL], y[VAL]))
        refit = module.build({**_config(name), "max_epochs": 3}, "binary", 0, 1).fit(X, y)
        assert 1 <= est.best_epoch_ <= 60 and refit.best_epoch_ == 3


def test_cnn1d_dilated_ignores_padding_and_strand():
    """Extra trailing padding never changes a prediction; with reverse-complement averaging,
    neither does reading the other strand."""
    import torch

    from benchmark.nn.cnn_blocks import DilatedResNet1D, reverse_complement

    X = torch.as_tensor(_views()["onehot"])
    torch.manual_seed(0)
    net = DilatedResNet1D(4, 2, channels=8, n_pool=2, n_dilated=3, rc_augment=True).eval()
    padded = torch.cat([X, torch.zeros(N, 11, 4)], dim=1)
    with torch.no_grad():
        out = net(X)
        torch.testing.assert_close(net(padded), out, rtol=0, atol=1e-5)
        torch.testing.assert_close(net(reverse_complement(X)), out, rtol=0, atol=1e-5)
    # the reverse complement of ACGTT (then padding) is AACGT (then padding)
    seq = torch.zeros(1, 7, 4)
    seq[0, torch.arange(5), torch.tensor([0, 1, 2, 3, 3])] = 1
    rc = reverse_complement(seq)
    assert rc[0, :5].argmax(-1).tolist() == [0, 0, 1, 2, 3] and rc[0, 5:].sum() == 0
    with pytest.raises(ValueError, match="DNA"):
        DilatedResNet1D(20, 2, rc_augment=True)


def test_tabm_trains_each_member_on_its_own_loss():
    """The training loss is the mean of the k members' losses, not the loss of their mean."""
    import torch
    import torch.nn.functional as F

    from benchmark.nn.tabm import TabMNet

    torch.manual_seed(0)
    net = TabMNet(6, 3, k=4, n_blocks=1, d_block=16, dropout=0.0)
    x, y = torch.randn(8, 6), torch.arange(8) % 3
    members = net.net(x)  # (batch, k, classes)
    net.train()
    target = F.one_hot(y, 3).float().unsqueeze(-1).expand(8, 3, 4)
    want = torch.stack([F.cross_entropy(members[:, j], y) for j in range(4)]).mean()
    torch.testing.assert_close(F.cross_entropy(net(x), target), want)
    net.eval()
    torch.testing.assert_close(torch.softmax(net(x), -1), torch.softmax(members, -1).mean(1))


@pytest.mark.slow
def test_realmlp_is_close_to_the_authors_package():
    """Our RealMLP against pytabkit's RealMLP-TD on the same split of breast_cancer (AUROC)."""
    pytest.importorskip("pytabkit")
    from pytabkit import RealMLP_TD_Classifier
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import roc_auc_score

    X, y = load_breast_cancer(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(y))
    tr, va, te = idx[:300], idx[300:400], idx[400:]
    ours = learners.get("realmlp").build(load_space("realmlp").default_config(), "binary", 0, 1)
    ours.fit(X[tr], y[tr], eval_set=(X[va], y[va]))
    theirs = RealMLP_TD_Classifier(random_state=0, n_threads=1, device="cpu")
    theirs.fit(X[tr], y[tr], X[va], y[va])
    auc = [roc_auc_score(y[te], m.predict_proba(X[te])[:, 1]) for m in (ours, theirs)]
    assert abs(auc[0] - auc[1]) < 0.03, auc
