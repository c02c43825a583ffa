"""The split plan: stratified, grouped without straddling, nested, deterministic, hashed."""
import numpy as np
import pytest

from benchmark.splits import make_plan


def _data(n=120, groups=True, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    g = rng.integers(0, 12, n) if groups else None
    return y, g


@pytest.mark.parametrize("inner", ["holdout", "kfold"])
def test_grouped_plan_never_straddles(inner):
    y, g = _data()
    plan = make_plan("d", y, g, seed=3, outer_folds=3, inner=inner, inner_folds=3)
    tests = np.concatenate([f.test for f in plan.folds])
    assert sorted(tests.tolist()) == list(range(len(y)))  # outer tests partition the rows
    for f in plan.folds:
        assert not set(g[f.train]) & set(g[f.test])
        assert len(f.inner) == (1 if inner == "holdout" else 3)
        for tr, va in f.inner:
            assert set(tr) | set(va) <= set(f.train)
            assert not set(tr) & set(va)
            assert not set(g[tr]) & set(g[va])


def test_stratified_plan_keeps_class_balance():
    y, _ = _data(300, groups=False)
    plan = make_plan("d", y, None, seed=0, outer_folds=5)
    for f in plan.folds:
        assert abs(y[f.test].mean() - y.mean()) < 0.05


def test_plan_is_deterministic_and_hash_depends_on_seed():
    y, g = _data()
    a = make_plan("d", y, g, seed=1, outer_folds=3)
    b = make_plan("d", y, g, seed=1, outer_folds=3)
    c = make_plan("d", y, g, seed=2, outer_folds=3)
    assert a.digest == b.digest != c.digest
    assert all(np.array_equal(x.test, z.test) for x, z in zip(a.folds, b.folds))


def test_plan_round_trips_to_json(tmp_path):
    y, g = _data()
    plan = make_plan("d", y, g, seed=1, outer_folds=3)
    plan.save(tmp_path / "d.json")
    import json

    saved = json.loads((tmp_path / "d.json").read_text())
    assert saved["sha256"] == plan.digest
    assert saved["folds"][0]["test"] == plan.folds[0].test.tolist()


def test_repeated_plan_keeps_first_repeat_and_reshuffles_the_others():
    y = np.array([0, 1] * 30)
    one = make_plan("d", y, None, seed=3, outer_folds=3)
    rep = make_plan("d", y, None, seed=3, outer_folds=3, repeats=4)
    assert len(rep.folds) == 12 and [f.repeat for f in rep.folds] == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    for a, b in zip(one.folds, rep.folds[:3]):  # repeat 0 is the single-repeat plan
        assert np.array_equal(a.test, b.test) and np.array_equal(a.inner[0][1], b.inner[0][1])
    for r in range(4):  # each repeat is a partition of the rows
        tests = np.concatenate([f.test for f in rep.folds[3 * r:3 * r + 3]])
        assert sorted(tests.tolist()) == list(range(60))
    assert not np.array_equal(rep.folds[0].test, rep.folds[3].test)
    assert one.digest != rep.digest and rep.digest == make_plan(
        "d", y, None, seed=3, outer_folds=3, repeats=4).digest
    assert rep.to_json()["repeats"] == 4


def test_repeated_grouped_plan_never_straddles():
    y = np.array([0, 1] * 40)
    groups = np.repeat(np.arange(16), 5)
    plan = make_plan("d", y, groups, seed=0, outer_folds=4, repeats=2)
    for f in plan.folds:
        assert not set(groups[f.train]) & set(groups[f.test])
        for tr, va in f.inner:
            assert not set(groups[tr]) & set(groups[va])
