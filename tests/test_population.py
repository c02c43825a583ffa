"""Population training: M configurations trained as one stacked model train as they would alone;
the search asks, runs, stores and resumes them in batches."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from benchmark import learners
from benchmark.nn import fit_population
from benchmark.nn import population as pop
from benchmark.nn.stacks import MLPStack
from benchmark.records import OuterEvent, TrialEvent
from benchmark.study import Resources

from helpers import write_csv_dataset, write_study

# Mixed on purpose: depth, activation, batch norm, optimizer, schedule, init, patience, dropout,
# learning rate and weight decay all differ between members of one stack.
MLP = [dict(depth=3, activation="relu", batch_norm=True, optimizer="adamw", schedule="cosine",
            init="kaiming", patience=2, dropout=0.3, lr=3e-3, weight_decay=1e-4),
       dict(depth=1, activation="gelu", batch_norm=False, optimizer="sgd", schedule="plateau",
            init="default", patience=5, dropout=0.0, lr=1e-2, weight_decay=1e-3),
       dict(depth=2, activation="silu", batch_norm=True, optimizer="sgd", schedule="none",
            init="xavier", patience=3, dropout=0.1, lr=3e-3, weight_decay=0.0),
       dict(depth=2, activation="relu", batch_norm=False, optimizer="adamw", schedule="none",
            init="default", patience=9, dropout=0.5, lr=1e-3, weight_decay=1e-2)]
RESNET = [dict(n_blocks=b, hidden_dropout=h, residual_dropout=r, optimizer=o, lr=lr)
          for b, h, r, o, lr in [(3, 0.2, 0.0, "adamw", 2e-3), (1, 0.0, 0.1, "sgd", 1e-2),
                                 (2, 0.1, 0.3, "adamw", 1e-3)]]
CNN1D = [dict(n_layers=2, kernel_size=5, dilation=2, pooling=p, dropout=d, optimizer=o, lr=2e-3)
         for p, d, o in [("max", 0.2, "adamw"), ("max", 0.0, "sgd")]]
CNN2D = [dict(n_blocks=2, block="residual", dropout=d, optimizer=o, lr=2e-3)
         for d, o in [(0.2, "adamw"), (0.0, "sgd")]]
FIT = dict(batch_size=16, max_epochs=15, device="cpu")


def _data(kind: str, n: int = 96, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    if kind == "tabular":
        X = rng.normal(size=(n, 9)) + 0.7 * y[:, None] * (np.arange(9) < 3)
    elif kind == "onehot":
        X = np.zeros((n, 24, 4), np.float32)
        X[np.arange(n)[:, None], np.arange(24), rng.integers(0, 4, (n, 24))] = 1.0
        X[y == 1, 8:11] = np.eye(4, dtype=np.float32)[[3, 0, 3]]
    else:
        X = rng.random((n, 1, 8, 8)).astype(np.float32)
        X[y == 1, 0, :3, :3] += 1.0
    return X, y


def _estimators(name: str, configs: list[dict], size: dict) -> list:
    return [learners.get(name).build({**c, **size, **FIT}, "binary", 100 + i, 1)
            for i, c in enumerate(configs)]


def _fit(models, X, y, together: bool, monkeypatch) -> list:
    """Fit ``models`` as one stack (the plan told to stack anything), or each alone."""
    with monkeypatch.context() as m:
        m.setitem(pop.STEP, "cpu", {None: (1e30, 0.0)})
        m.setitem(pop.CAP, "cpu", 1e30)
        data = (X[:72], y[:72], (X[72:], y[72:]))
        errors = (fit_population(models, *data) if together
                  else [fit_population([model], *data)[0] for model in models])
    assert errors == [None] * len(models)
    assert all(model.population_ == (len(models) if together else 1) for model in models)
    return models


CASES = [("mlp", "tabular", MLP, {"width": 24}, {"width": [24, 9, 40, 17]}),
         ("resnet", "tabular", RESNET, {"d_main": 16, "d_hidden_factor": 2.0},
          {"d_main": [16, 8, 24]}),
         ("cnn1d", "onehot", CNN1D, {"channels": 8}, {"channels": [8, 5]}),
         ("cnn2d", "img", CNN2D, {"channels": 4}, {"channels": [4, 3]})]


@pytest.mark.parametrize("name,kind,configs,size,_", CASES, ids=[c[0] for c in CASES])
def test_a_population_trains_each_member_as_it_trains_alone(name, kind, configs, size, _,
                                                             monkeypatch):
    """Same widths: every member's numbers are bit for bit those it gets alone (its own batch
    order, dropout masks and initial weights; stopping and schedule of its own), except the 2D
    convolutions, whose grouped kernels sum in another order: equal to float tolerance."""
    X, y = _data(kind)
    alone = _fit(_estimators(name, configs, size), X, y, False, monkeypatch)
    stacked = _fit(_estimators(name, configs, size), X, y, True, monkeypatch)
    assert all(m.population_ == len(configs) for m in stacked)
    assert len({m.n_epochs_ for m in stacked}) > 1 or name.startswith("cnn")  # they stop apart
    for a, b in zip(alone, stacked):
        assert (a.n_epochs_, a.best_epoch_) == (b.n_epochs_, b.best_epoch_)
        if name == "cnn2d":  # 1e-7 at first; fifteen epochs on 8x8 images amplify it
            np.testing.assert_allclose(a.history_["val_loss"], b.history_["val_loss"], rtol=5e-3)
            np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=5e-3)
        else:
            assert a.history_ == b.history_
            np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("name,kind,configs,_,sizes", CASES, ids=[c[0] for c in CASES])
def test_padded_members_agree_to_float_tolerance(name, kind, configs, _, sizes, monkeypatch):
    """Different widths share a stack padded with zeros; the padding adds exact zeros, so only
    the order of float sums in the batched products differs. (Without batch norm after a biased
    layer: that bias's true gradient is 0, AdamW normalises its float noise into steps of the
    learning rate, and a member then drifts from its lone self by more than float tolerance.)"""
    key = next(iter(sizes))
    configs = [{**c, key: v, **({"batch_norm": False} if name == "mlp" else {})}
               for c, v in zip(configs, sizes[key])]
    X, y = _data(kind)
    alone = _fit(_estimators(name, configs, {}), X, y, False, monkeypatch)
    stacked = _fit(_estimators(name, configs, {}), X, y, True, monkeypatch)
    for a, b in zip(alone, stacked):
        np.testing.assert_allclose(a.history_["val_loss"], b.history_["val_loss"], rtol=1e-4)
        np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-4)


def test_a_diverging_member_fails_alone(monkeypatch):
    X, y = _data("tabular")
    configs = [MLP[0], {**MLP[1], "lr": 1e6, "weight_decay": 0.0}, MLP[3]]
    models = _estimators("mlp", configs, {"width": 16})
    with monkeypatch.context() as m:
        m.setitem(pop.STEP, "cpu", {None: (1e30, 0.0)})
        m.setitem(pop.CAP, "cpu", 1e30)
        errors = fit_population(models, X[:72] * 1e3, y[:72], (X[72:], y[72:]))
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], FloatingPointError) and "non-finite" in str(errors[1])
    alone = _estimators("mlp", [configs[0]], {"width": 16})[0]
    alone.fit(X[:72] * 1e3, y[:72], eval_set=(X[72:], y[72:]))
    assert alone.history_ == models[0].history_


def test_runs_are_bit_identical_and_share_their_seconds(monkeypatch):
    X, y = _data("tabular")
    runs = [_fit(_estimators("mlp", MLP, {"width": 24}), X, y, True, monkeypatch)
            for _ in range(2)]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
        assert a.fit_seconds_ > 0
    # a member that trains longer is charged more: each epoch's seconds go to those in it
    longest = max(runs[0], key=lambda m: m.n_epochs_)
    shortest = min(runs[0], key=lambda m: m.n_epochs_)
    assert longest.n_epochs_ > shortest.n_epochs_


def test_the_plan_stacks_small_networks_and_trains_large_ones_alone():
    X, y = _data("tabular", n=400)
    small = [{**MLP[0], "width": w, "dropout": p, "batch_size": 32}
             for w, p in [(32, 0.0), (40, 0.2), (48, 0.4)]]
    large = [{**MLP[0], "depth": 4, "width": 512, "batch_size": 256}]
    other = [{**MLP[1], "width": 32, "batch_size": 64}]  # another batch size: another stack
    models = [learners.get("mlp").build(c, "binary", i, 1)
              for i, c in enumerate(small + large + other)]
    first = models[0].set_params(device="cpu")
    first._device()
    data = first._prepare(X, y, None)
    members = [pop._member(m) for m in models]
    groups = pop.plan(members, "mlp", data, first.device_, 1)
    sizes = sorted(len(g) for g in groups)
    assert sizes == [1, 1, 3], sizes
    # small members whose depths, activations and batch norm all differ cut the member axis at
    # every layer (d3 relu+bn, d2 silu+bn, d1 gelu: 6 cuts), each priced by the plan
    mixed = [pop._member(learners.get("mlp").build({**c, "width": 32, "batch_size": 32},
                                                   "binary", 0, 1)) for c in MLP[:3]]
    assert MLPStack.splits(sorted((m.spec for m in mixed), key=MLPStack.order)) == 6
    for cut, stacks in ((0.0, 1), (pop.STEP["cpu"]["mlp"][0], 3)):
        with pytest.MonkeyPatch.context() as m:
            m.setitem(pop.STEP, "cpu", {"mlp": (pop.STEP["cpu"]["mlp"][0], cut), None: (0, 0)})
            assert len(pop.plan(mixed, "mlp", data, first.device_, 1)) == stacks
    cnn = [pop._member(learners.get("cnn1d").build({**CNN1D[0], "kernel_size": k}, "binary",
                                                    0, 1)) for k in (5, 7)]
    Xs, ys = _data("onehot")
    first = cnn[0].est.set_params(device="cpu")
    first._device()
    assert len(pop.plan(cnn, "cnn1d", first._prepare(Xs, ys, None), first.device_, 1)) == 2


def test_population_size_is_a_study_setting_chosen_from_the_device():
    assert Resources().population_for(gpus=False) == 8
    assert Resources().population_for(gpus=True) == 32
    assert Resources(gpus_per_deep_trial=0).population_for(gpus=True) == 8
    assert Resources(population=3).population_for(gpus=True) == 3


@pytest.fixture(scope="module")
def deep_cell(tmp_path_factory):
    from benchmark.runner import prepare

    folder = tmp_path_factory.mktemp("population")
    ds = write_csv_dataset(folder)
    plan = prepare(str(write_study(folder, [ds.name], ["mlp"], trials=7)))
    cell = plan.cells()[0]
    args = (plan.datasets[cell.dataset], plan.splits[cell.dataset].folds[0], plan.spaces["mlp"])
    return cell, args, replace(plan.settings(cell.dataset, 1), population=3)


def _trials(events):
    return [e for e in events if isinstance(e, TrialEvent)]


def test_a_cell_runs_its_budget_in_batches_with_the_default_first(deep_cell):
    from benchmark.search import run_cell

    cell, args, settings = deep_cell
    events = list(run_cell(cell, *args, settings))
    trials = _trials(events)
    assert [t.number for t in trials] == list(range(7)) and isinstance(events[-1], OuterEvent)
    assert trials[0].config == args[2].default_config()
    assert [t.attrs["population"] for t in trials] == [3, 3, 3, 3, 3, 3, 1]
    assert all(t.state == "COMPLETE" and t.attrs["epochs"] >= 1 for t in trials)
    assert all(t.seconds > 0 for t in trials)
    again = _trials(run_cell(cell, *args, settings))  # same seed: same configurations and scores
    assert [(t.config, t.value) for t in again] == [(t.config, t.value) for t in trials]
    # no batch crosses the end of the 3 random start-up trials: trial 3, the first TPE models,
    # is asked knowing trials 0-2, as when trials run one at a time
    alone = _trials(run_cell(cell, *args, replace(settings, population=1)))
    assert [t.config for t in alone[:4]] == [t.config for t in trials[:4]]
    assert [t.value for t in alone[:4]] == pytest.approx([t.value for t in trials[:4]])


def test_a_batch_lost_to_a_crash_is_asked_again_and_stored_trials_never_rerun(deep_cell):
    """Four trials stored: batch [3, 6) had one stored when the cell died; the resumed cell asks
    that batch again whole (the same configurations) and runs only trials 4 and 5, then 6."""
    from benchmark.search import run_cell

    cell, args, settings = deep_cell
    full = _trials(run_cell(cell, *args, settings))
    history = full[:4]  # as stored: a TrialEvent is a StoredTrial
    resumed = _trials(run_cell(cell, *args, settings, history))
    assert [t.number for t in resumed] == [4, 5, 6]
    assert [t.config for t in resumed] == [t.config for t in full[4:]]
    for a, b in zip(resumed, full[4:]):  # the batch's rest trains as a smaller population
        assert a.value == pytest.approx(b.value, abs=1e-6)
