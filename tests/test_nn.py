"""The neural side: estimator protocol, shapes, early stopping, determinism, padding, failures."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from benchmark import learners
from benchmark.nn import TorchClassifier, TorchRegressor, device_info, make_estimator
from benchmark.spaces import load_space

FAST = dict(max_epochs=3, batch_size=16, threads=1, device="cpu")
SMALL = {"mlp": {"module__width": 16}, "resnet": {"module__d_main": 16, "module__n_blocks": 1},
         "cnn1d": {"module__channels": 8, "module__kernel_size": 3},
         "cnn2d": {"module__channels": 4, "module__n_blocks": 2}}


def _onehot(n: int, length: int, rng, min_length: int = 5) -> np.ndarray:
    X = np.zeros((n, length, 4), dtype=np.float32)
    for i, L in enumerate(rng.integers(min_length, length + 1, n)):
        X[i, np.arange(L), rng.integers(0, 4, L)] = 1.0
    return X


def _data(kind: str, n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "tabular":
        X = rng.normal(size=(n, 7))
        X[rng.random(X.shape) < 0.1] = np.nan
        return X
    if kind == "onehot":
        return _onehot(n, 20, rng)
    side = {"img8": 8, "img28": 28}[kind]
    return rng.random((n, 1, side, side)).astype(np.float32)


def _target(task: str, n: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    if task == "regression":
        return rng.normal(size=n) * 10 + 3
    return np.arange(n) % (2 if task == "binary" else 3)


CASES = [("mlp", "tabular"), ("resnet", "tabular"), ("cnn1d", "onehot"),
         ("cnn2d", "img8"), ("cnn2d", "img28")]


@pytest.mark.parametrize("module,kind", CASES)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_fit_predict_shapes(module, kind, task):
    X, y = _data(kind), _target(task)
    cls = TorchRegressor if task == "regression" else TorchClassifier
    est = cls(module=module, **FAST, **SMALL[module]).fit(X[:30], y[:30], eval_set=(X[30:], y[30:]))
    assert 1 <= est.best_epoch_ <= 3
    if task == "regression":
        assert est.predict(X).shape == (40,)
        return
    proba = est.predict_proba(X)
    assert proba.shape == (40, len(np.unique(y)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(est.predict(X)) <= set(est.classes_)


def test_clone_and_params():
    est = TorchClassifier(module="mlp", lr=0.01, module__width=32, module__depth=3)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    twin.set_params(max_epochs=7, module__width=8)
    assert (twin.max_epochs, twin.module__width, est.module__width) == (7, 8, 32)
    with pytest.raises(ValueError):
        twin.set_params(widht=3)
    with pytest.raises(TypeError):
        TorchClassifier(width=3)
    assert "module__depth=3" in repr(est)


def test_early_stopping_on_rising_validation_loss():
    """Pure-noise labels: the net memorises training rows while validation loss climbs."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(200, 20)), rng.integers(0, 2, 200)
    est = TorchClassifier(module="mlp", module__width=256, module__dropout=0.0, lr=1e-2,
                          patience=3, max_epochs=200, threads=1, device="cpu")
    est.fit(X[:100], y[:100], eval_set=(X[100:], y[100:]))
    assert est.n_epochs_ < 200
    assert est.n_epochs_ == est.best_epoch_ + 3
    assert len(est.history_["val_loss"]) == est.n_epochs_


def test_refit_without_eval_set_runs_exactly_max_epochs():
    X, y = _data("tabular"), _target("binary")
    est = TorchClassifier(module="mlp", patience=1, **{**FAST, "max_epochs": 7}).fit(X, y)
    assert est.n_epochs_ == 7 and est.best_epoch_ == 7
    assert len(est.history_["train_loss"]) == 7 and est.history_["val_loss"] == []


@pytest.mark.parametrize("module,kind", CASES[:4])
def test_same_trial_twice_is_bit_identical(module, kind):
    X, y = _data(kind, n=60), _target("multiclass", n=60)
    params = dict(module=module, random_state=123, schedule="cosine", init="kaiming",
                  **FAST, **SMALL[module])
    runs = [TorchClassifier(**params).fit(X[:40], y[:40], eval_set=(X[40:], y[40:]))
            for _ in range(2)]
    assert np.array_equal(runs[0].predict_proba(X[40:]), runs[1].predict_proba(X[40:]))
    other = TorchClassifier(**{**params, "random_state": 124}).fit(X[:40], y[:40])
    assert not np.array_equal(runs[0].predict_proba(X[40:]), other.predict_proba(X[40:]))


@pytest.mark.parametrize("module,kind", CASES[:4])
def test_fits_never_read_uninitialised_memory(module, kind, monkeypatch):
    """Fits leave new tensors unfilled (``runtime``); with torch's NaN fill kept on, the numbers
    are the same, so no kernel reads memory it did not write."""
    import types

    import torch

    X, y = _data(kind, n=60), _target("multiclass", n=60)
    params = dict(module=module, random_state=5, **FAST, **SMALL[module])
    fit = lambda: TorchClassifier(**params).fit(X[:40], y[:40], eval_set=(X[40:], y[40:]))  # noqa: E731
    unfilled = fit().predict_proba(X[40:])
    assert torch.utils.deterministic.fill_uninitialized_memory  # restored after the fit
    # runtime() now switches off a stand-in flag, and torch keeps filling with NaN
    monkeypatch.setattr(torch.utils, "deterministic",
                        types.SimpleNamespace(fill_uninitialized_memory=True))
    assert np.array_equal(unfilled, fit().predict_proba(X[40:]))


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_cnn1d_ignores_extra_padding(pooling):
    rng = np.random.default_rng(3)
    X, y = _onehot(50, 21, rng, min_length=3), np.arange(50) % 2  # odd length: ceil pooling
    est = TorchClassifier(module="cnn1d", module__n_layers=3, module__pooling=pooling,
                          module__dilation=2, **FAST).fit(X, y)
    padded = np.concatenate([X, np.zeros((50, 13, 4), np.float32)], axis=1)
    np.testing.assert_allclose(est.predict_proba(padded), est.predict_proba(X), rtol=0, atol=1e-6)


def test_nonfinite_loss_raises():
    X, y = _data("tabular"), _target("regression") * 1e3
    est = TorchRegressor(module="mlp", optimizer="sgd", lr=1e6, **{**FAST, "max_epochs": 20})
    with pytest.raises(FloatingPointError, match="non-finite training loss at epoch"):
        est.fit(X, y)


def test_preprocessing_uses_training_rows_only():
    X, y = _data("tabular"), _target("binary")
    X[:, 2] = np.nan  # an all-missing column must not produce NaN
    est = TorchClassifier(module="mlp", **FAST).fit(X[:30], y[:30])
    assert np.all(np.isfinite(est.predict_proba(X)))
    col = X[:30, 0]
    filled = np.where(np.isnan(col), np.nanmedian(col), col)
    assert est.median_[0] == np.nanmedian(col) and est.mean_[0] == filled.mean()
    assert (est.median_[2], est.mean_[2], est.scale_[2]) == (0.0, 0.0, 1.0)


@pytest.mark.parametrize("name", learners.DEEP)
def test_learner_modules_build_their_default(name):
    module, space = learners.get(name), load_space(name)
    assert module.FAMILY == "deep" and module.USES_VALIDATION
    assert set(space.default) == set(space.params)  # trial 0 sets every tuned parameter
    assert space.default_params() == space.default  # ... to a value inside its range
    est = module.build(space.default_config(), "binary", seed=5, threads=1)
    assert isinstance(est, TorchClassifier) and est.random_state == 5
    assert isinstance(module.build(space.default_config(), "regression", 5, 1), TorchRegressor)
    refit = module.build({**space.default_config(), "max_epochs": 4}, "binary", 5, 1)
    assert refit.max_epochs == 4


def test_make_estimator_prefixes_architecture_keys():
    est = make_estimator("mlp", {"width": 8, "lr": 0.1, "module__depth": 1}, "multiclass", 1, 2)
    assert (est.module__width, est.module__depth, est.lr, est.threads) == (8, 1, 0.1, 2)


def test_device_info():
    info = device_info()
    assert {"torch_version", "cuda_available", "device_name"} <= set(info)


def test_cnn2d_stops_pooling_at_one_pixel():
    X, y = _data("img8", n=24), _target("multiclass", n=24)
    est = TorchClassifier(module="cnn2d", module__n_blocks=4, module__channels=2,
                          module__block="residual", **FAST).fit(X, y)
    assert est.predict_proba(X).shape == (24, 3)


def test_registry_import_stays_light():
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys; from benchmark import learners; "
            "[learners.get(n) for n in learners.DEEP]; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    assert out.stdout.strip() == "False"
