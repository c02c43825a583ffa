"""The store gives back the records it was given: trials, outer evaluations with their controls and
predictions (in tables of their own, written in one transaction), and an older store's outer
evaluations kept as a study attribute."""
from __future__ import annotations

import math
import sqlite3
from types import SimpleNamespace

import optuna
import pytest

from benchmark import results
from benchmark import store as store_module
from benchmark.records import (Cell, Control, OuterEvent, OuterResult, Predictions, StoredTrial,
                               TrialEvent, Where)
from benchmark.store import Store

CELL = Cell("toy", 1, "logreg")
DIST = {"C": optuna.distributions.FloatDistribution(1e-4, 1e4, log=True)}


def _trials(cell: Cell = CELL) -> list[TrialEvent]:
    return [TrialEvent("COMPLETE", 0.6 + n / 10, {"C": 10.0 ** n, "max_iter": 100}, 0.5,
                       attrs={"inner_scores": [0.6], "split_sha256": "ab", "best_epoch": 3},
                       cell=cell, number=n, params={"C": 10.0 ** n}, distributions=DIST,
                       where=Where("node", "host", 11))
            for n in range(3)] + [TrialEvent("FAIL", None, {"C": 1.0}, 0.1, "ValueError: x",
                                             cell=cell, number=3, params={"C": 1.0},
                                             distributions=DIST)]


def _outer(cell: Cell = CELL, predictions: bool = True) -> OuterEvent:
    def result(trial, auroc):
        return OuterResult(trial, {"C": 10.0 ** trial, "max_iter": 100}, 0.25,
                           {"auroc": auroc, "log_loss": 0.5})

    return OuterEvent(
        cell, result(0, 0.7), result(2, 0.9), [result(1, 0.8)],
        [Control(0, {"auroc": 0.45, "log_loss": float("nan")}, None, 0.2),
         Control(1, {}, "ValueError: no", 0.1)],
        {"auroc": 0.5, "log_loss": 0.69},
        Predictions([4, 7, 9], [[0.25, 0.75], [0.5, 0.5], [0.125, 0.875]]) if predictions else None,
        Where("node", "host", 12), 3.5, 3.0, {"blas": [1], "openmp": [], "torch": None})


def _same(a: OuterEvent, b: OuterEvent) -> None:
    """Equal, NaN equal to NaN."""
    nan = -12345.0
    clean = lambda c: Control(c.seed, {k: nan if math.isnan(v) else v  # noqa: E731
                                       for k, v in c.scores.items()}, c.error, c.seconds)
    assert [clean(c) for c in a.controls] == [clean(c) for c in b.controls]
    assert (a.cell, a.default, a.tuned, a.incumbents, a.chance, a.predictions, a.where, a.seconds,
            a.cpu_seconds, a.threads) == (b.cell, b.default, b.tuned, b.incumbents, b.chance,
                                          b.predictions, b.where, b.seconds, b.cpu_seconds,
                                          b.threads)


def test_the_store_gives_back_the_records_it_was_given(tmp_path):
    url = f"sqlite:///{tmp_path}/optuna.db"
    store = Store(url)
    other = Cell("toy", 2, "knn")  # a cell without its outer evaluation yet
    store.record(_trials() + [_outer()] + _trials(other)[:1], lambda c: "maximize")
    assert store.done() == {CELL.key} and store.has_outer(CELL) and not store.has_outer(other)
    cells = Store(url).cells()
    assert [c.cell for c in cells] == [CELL, other]  # in key order
    stored = cells[0].trials
    assert [t.number for t in stored] == [0, 1, 2, 3]
    for t, sent in zip(stored, _trials()):
        assert type(t) is StoredTrial
        assert (t.state, t.value, t.config, t.seconds, t.error, t.attrs, t.params, t.where) == (
            sent.state, sent.value, sent.config, sent.seconds, sent.error, sent.attrs,
            sent.params, sent.where)
    assert stored[0].best_epoch == 3 and stored[0].split_sha256 == "ab"
    _same(cells[0].outer, _outer())
    assert cells[1].outer is None and len(cells[1].trials) == 1
    history = Store(url).history(CELL, "maximize")
    assert [(t.number, t.config, t.params) for t in history] == [
        (t.number, t.config, t.params) for t in stored]
    assert [o.cell for o in Store(url).outer_evaluations()] == [CELL]


def test_an_outer_evaluation_is_stored_whole_or_not_at_all(tmp_path, monkeypatch):
    """A crash while its predictions are written leaves no part of it: the cell is not done and
    runs its outer evaluation again; a second evaluation of a done cell keeps the first."""
    url = f"sqlite:///{tmp_path}/optuna.db"
    store = Store(url)
    real = store_module._outer_rows

    def crashing(event):
        tables = list(real(event).items())

        def items():
            yield from tables[:-1]  # the cell's row, its results, its controls ...
            raise RuntimeError("the driver died")  # ... and never its predictions

        return SimpleNamespace(items=items)

    monkeypatch.setattr(store_module, "_outer_rows", crashing)
    with pytest.raises(RuntimeError):
        store.record_outer(_outer(), "maximize")
    assert store.done() == set()
    with sqlite3.connect(tmp_path / "optuna.db") as con:
        for table in ("benchmark_outer_cells", "benchmark_outer", "benchmark_controls",
                      "benchmark_predictions"):
            assert con.execute(f"select count(*) from {table}").fetchone()[0] == 0, table
    monkeypatch.setattr(store_module, "_outer_rows", real)
    store.record_outer(_outer(), "maximize")
    store.record_outer(OuterEvent.lost(CELL, "later"), "maximize")  # kept: the first one
    _same(Store(url).cells()[0].outer, _outer())


def test_an_older_store_with_outer_evaluations_in_study_attributes_is_read(tmp_path):
    """Before the store's own tables, a cell's outer evaluation was the study attribute
    ``outer``: results by name (``incumbent<N>`` for the budget curves), the checks' controls,
    chance levels and predictions inside the tuned one. Such a store still reads as records."""
    url = f"sqlite:///{tmp_path}/optuna.db"
    store = Store(url)
    store.record_trials(_trials(), lambda c: "maximize")
    new = _outer()

    def old(r: OuterResult) -> dict:
        return {"trial": r.trial, "config": r.config, "fit_seconds": r.fit_seconds,
                "scores": r.scores, "error": r.error}

    tuned = {**old(new.tuned), "chance": new.chance,
             "controls": [{"seed": c.seed, "scores": c.scores, "error": c.error,
                           "seconds": c.seconds} for c in new.controls],
             "predictions": {"rows": new.predictions.rows, "values": new.predictions.values}}
    store.study(CELL, "maximize").set_user_attr("outer", {
        "default": old(new.default), "incumbent1": old(new.incumbents[0]), "tuned": tuned,
        "node_id": "node", "seconds": 3.5, "cpu_seconds": 3.0, "threads": new.threads})
    again = Store(url)
    assert again.done() == {CELL.key}
    got = again.cells()[0].outer
    _same(got, OuterEvent(**{**new.__dict__, "where": Where("node")}))
    scores = results.scores_frame(again.cells())
    assert set(scores["config"]) == {"default", "tuned"} and len(scores) == 4
    assert len(results.predictions_frame(again.cells())) == 6
    assert sorted(results.curves_frame(again.cells())["trial"].unique()) == [0, 1, 2]


def test_a_sensitive_cell_stores_no_predictions(tmp_path):
    url = f"sqlite:///{tmp_path}/optuna.db"
    Store(url).record_outer(_outer(predictions=False), "maximize")
    with sqlite3.connect(tmp_path / "optuna.db") as con:
        assert con.execute("select count(*) from benchmark_predictions").fetchone()[0] == 0
    assert Store(url).cells()[0].outer.predictions is None


def test_a_study_listed_without_its_private_id_is_found_by_name(tmp_path):
    """Optuna's listed studies keep their id in a private attribute; without it, the store asks
    by name (the public way) and reads the same cells."""
    store = Store(f"sqlite:///{tmp_path}/optuna.db")
    store.record(_trials() + [_outer()], lambda c: "maximize")
    listed = store.storage.get_all_studies()[0]
    assert store_module._study_id(store.storage, SimpleNamespace(study_name=listed.study_name)
                                  ) == store_module._study_id(store.storage, listed)
