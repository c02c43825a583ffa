"""Fit the population plan's CPU step costs (``population.STEP``); prints, never asserts.

For each learner: pairs of configurations drawn from its own search space with the same batch
size, each trained for a few epochs (no early stopping, one thread) apart and then as one stack,
on the bundled data it meets in the `quick` study. The seconds a step saves by stacking are
fitted by least squares as ``overhead - padding / rate - cut x splits``, with ``padding`` the
extra work the plan's model gives the pair (``population._work``) and ``splits`` the cuts of the
member axis (``Stack.splits``); ``overhead x rate`` and ``cut x rate`` are the figures in
``STEP``, in the model's units. Pairs whose padding exceeds ``--max-padding`` are left out of the
fit (they are far from the decision and would dominate it). Also printed: how often the plan's
present figures decide a pair as its measurement does.

    python scripts/calibrate_stacks.py [--learners mlp resnet] [--pairs 100] [--epochs 8]
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_nn import configs, dataset  # noqa: E402
from benchmark import learners  # noqa: E402
from benchmark.nn import population as pop  # noqa: E402
from benchmark.nn.estimator import runtime  # noqa: E402
from benchmark.nn.stacks import STACKS  # noqa: E402

CPU = torch.device("cpu")


def train(ests, fit_args) -> tuple[float, list, object]:
    """CPU seconds to train ``ests`` as one stack (members in the plan's order)."""
    with runtime(1, False, CPU, 0):
        first = ests[0]
        first._device()
        data = first._prepare(*fit_args)
        for est in ests[1:]:
            est._adopt(first)
        members = sorted((pop._member(e) for e in ests),
                         key=lambda m: STACKS[first.module].order(m.spec))
        t0 = time.process_time()
        pop._train(members, first.module, data, CPU)
        return time.process_time() - t0, members, data


def measure(learner: str, args) -> tuple[str, np.ndarray]:
    """The learner's architecture, and rows of (padding, splits, seconds saved per step) for
    ``args.pairs`` pairs."""
    task, X, y, _ = dataset(learner)
    rows = np.random.default_rng(1).permutation(len(y))[: 3 * len(y) // 4]
    cut = int(0.8 * len(rows))
    fit_args = (X[rows[:cut]], y[rows[:cut]], (X[rows[cut:]], y[rows[cut:]]))
    drawn = configs(learner, 20 * args.pairs, seed=3, max_epochs=None)
    module = learners.get(learner)

    def build(i):
        c = {**drawn[i], "max_epochs": args.epochs, "patience": 10 ** 6}
        return module.build(c, task, seed=1000 + i, threads=1)

    build(0).fit(*fit_args)  # warm-up
    stack = STACKS[build(0).module]
    by_batch: dict = {}
    for i, c in enumerate(drawn):
        by_batch.setdefault(int(c["batch_size"]), []).append(i)
    by_batch = {b: ids for b, ids in by_batch.items() if len(ids) > 1}
    rng, out = np.random.default_rng(0), []
    for _ in range(args.pairs):
        batch = int(rng.choice(sorted(by_batch)))
        i, j = (int(k) for k in rng.choice(by_batch[batch], 2, replace=False))
        apart = train([build(i)], fit_args)[0] + train([build(j)], fit_args)[0]
        together, members, data = train([build(i), build(j)], fit_args)
        n = min(batch, len(data.X))
        work = lambda ms: pop._work(stack, ms, tuple(data.X.shape[1:]), data.d_out, n)  # noqa: E731
        padding = work(members) - work(members[:1]) - work(members[1:])
        steps = args.epochs * -(-len(data.X) // n)
        out.append((padding, stack.splits([m.spec for m in members]), (apart - together) / steps))
    return build(0).module, np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", nargs="+", default=["mlp", "resnet"])
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--max-padding", type=float, default=2e8)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", message="grad and param do not obey")
    torch.set_num_threads(1)
    for learner in args.learners:
        architecture, rows = measure(learner, args)
        near = rows[rows[:, 0] < args.max_padding]
        if len(near) < 3:
            print(f"{learner}: {len(near)} of {len(rows)} pairs under --max-padding: too few to fit")
            continue
        A = np.c_[np.ones(len(near)), -near[:, 0], -near[:, 1]]
        (overhead, inverse_rate, cut), *_ = np.linalg.lstsq(A, near[:, 2], rcond=None)
        rate = 1.0 / inverse_rate
        fixed, split = pop.STEP["cpu"].get(architecture, pop.STEP["cpu"][None])
        agree = np.mean((rows[:, 0] + split * rows[:, 1] < fixed) == (rows[:, 2] > 0))
        print(f"{learner}: {len(rows)} pairs ({len(near)} fitted); saved per step = "
              f"{overhead * 1e3:.3f} ms - padding / {rate:.3g} - {cut * 1e3:.3f} ms x cuts; "
              f"as STEP: overhead {overhead * rate:.3g}, cut {cut * rate:.3g} "
              f"(now {fixed:.3g}, {split:.3g}; decides {agree:.0%} of the pairs as measured); "
              f"pairs that gained: {np.mean(rows[:, 2] > 0):.0%}", flush=True)


if __name__ == "__main__":
    main()
