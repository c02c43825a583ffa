"""Speed of population training; prints, never asserts (timings depend on the machine).

For each deep learner: configurations drawn from its own search space (seeded), fitted with
early stopping on the bundled data it meets in the `quick` study (an inner split as `quick`
makes it: 80/20 of three quarters of the rows), first one at a time by the reference loop
(``trainer.train``, the trainer every fit used before populations), then by ``fit_population``
in chunks of M. Figures are configurations per second of CPU time (one thread), so that other
work on the machine changes them little. Also printed: the mean size of the stacks the plan
formed (``population.plan`` trains large networks alone on a CPU).

    python scripts/bench_nn.py [--device cpu] [--threads 1] [--configs 32] [--sizes 1 4 8 16 32]
                               [--learners mlp resnet cnn1d cnn2d] [--max-epochs N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled
from benchmark import learners  # noqa: E402
from benchmark.nn import device_info, fit_population  # noqa: E402
from benchmark.nn.modules import build_module  # noqa: E402
from benchmark.nn.trainer import init_weights, train  # noqa: E402
from benchmark.spaces import load_space  # noqa: E402


# the bundled data each deep learner meets in the `quick` study, and the view it reads there
DATA = {"mlp": ("breast_cancer", "tabular"), "resnet": ("breast_cancer", "tabular"),
        "cnn1d": ("promoters", "onehot"), "cnn2d": ("breastmnist", "image")}


def dataset(learner: str) -> tuple[str, np.ndarray, np.ndarray, str]:
    """(task, X, y, what) for ``learner``: its `quick` dataset, read from the repository."""
    from benchmark.data.build import load_dataset

    name, view = DATA[learner]
    ds = load_dataset(name)
    X = ds.views[view]
    return ds.task, X, ds.y, f"{name} {'x'.join(map(str, X.shape))}"


def configs(learner: str, count: int, seed: int, max_epochs: int | None) -> list[dict]:
    space = load_space(learner)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = [space.config(study.ask(space.distributions()).params) for _ in range(count)]
    if max_epochs:
        out = [{**c, "max_epochs": min(int(c.get("max_epochs", max_epochs)), max_epochs)}
               for c in out]
    return out


def reference_fit(est, X, y, eval_set) -> int:
    """One configuration as every fit ran before populations: ``trainer.train`` on its own
    module, dropout from torch's global generator (kept here only as the yardstick). Returns
    the epochs it trained."""
    from benchmark.nn.estimator import runtime

    seed = int(est.random_state or 0)
    with runtime(est.threads, est.deterministic, est._device(), seed):
        data = est._prepare(X, y, eval_set)
        module = build_module(est.module, tuple(data.X.shape[1:]), data.d_out,
                              **est._module_kwargs())
        init_weights(module, est.init)
        module.to(est.device_)
        gen = torch.Generator(device=est.device_).manual_seed((seed * 7919 + 1) % 2**63)
        try:
            return train(module, data.X, data.Y, est._config(), gen, data.Xv, data.Yv).epochs_run
        except FloatingPointError:
            return 0


def bench(learner: str, args) -> dict:
    task, X, y, what = dataset(learner)
    rows = np.random.default_rng(1).permutation(len(y))[: 3 * len(y) // 4]  # an outer training part
    cut = int(0.8 * len(rows))  # the quick study's inner holdout of 20%
    tr, va = rows[:cut], rows[cut:]
    cfgs = configs(learner, args.configs, seed=0, max_epochs=args.max_epochs)
    module = learners.get(learner)

    def build(i, c):
        est = module.build(c, task, seed=1000 + i, threads=args.threads)
        return est.set_params(device=args.device)

    fit_args = (X[tr], y[tr], (X[va], y[va]))
    out = {"what": what, "ref": 0.0, "pop": {m: 0.0 for m in args.sizes}, "stack": {},
           "ref_epochs": 0, "epochs": {m: 0 for m in args.sizes}}
    build(0, cfgs[0]).fit(*fit_args)  # warm-up (first calls allocate and load kernels)
    for m in args.sizes:
        sizes = []
        for lo in range(0, len(cfgs), m):
            chunk = list(enumerate(cfgs))[lo:lo + m]
            if m == args.sizes[0]:
                t0 = time.process_time()
                for i, c in chunk:
                    out["ref_epochs"] += reference_fit(build(i, c), *fit_args)
                out["ref"] += time.process_time() - t0
            models = [build(i, c) for i, c in chunk]
            t0 = time.process_time()
            fit_population(models, *fit_args)
            out["pop"][m] += time.process_time() - t0
            sizes += [getattr(e, "population_", 1) for e in models]
            out["epochs"][m] += sum(getattr(e, "n_epochs_", 0) for e in models)
        out["stack"][m] = float(np.mean(sizes))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--configs", type=int, default=32, help="configurations per learner")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 8, 16, 32])
    ap.add_argument("--learners", nargs="+", default=list(DATA),
                    help=f"any of {', '.join(DATA)} (those with a dataset here)")
    ap.add_argument("--max-epochs", type=int, default=None, help="cap (default: the space's)")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    print("device:", device_info())
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    head = " ".join(f"{f'M={m}':>8}" for m in args.sizes)
    print(f"\nconfigurations per second ({args.configs} drawn from each learner's space; "
          f"x: against the reference; per epoch: the same ratio for epochs per second, which "
          f"early stopping's chance (each trainer draws its own dropout) does not sway; "
          f"stack: mean members per stack)")
    print(f"{'learner':<7} {'data':<22} {'reference':>9} {head}")
    for learner in args.learners:
        r = bench(learner, args)
        n = args.configs
        rates = " ".join(f"{n / r['pop'][m]:>8.2f}" for m in args.sizes)
        ratio = " ".join(f"{r['ref'] / r['pop'][m]:>7.2f}x" for m in args.sizes)
        stack = " ".join(f"{r['stack'][m]:>8.1f}" for m in args.sizes)
        ref_rate = r["ref_epochs"] / r["ref"] or float("nan")  # every reference fit diverged
        per_epoch = " ".join(f"{(r['epochs'][m] / r['pop'][m]) / ref_rate:>7.2f}x"
                             for m in args.sizes)
        print(f"{learner:<7} {r['what']:<22} {n / r['ref']:>9.2f} {rates}")
        print(f"{'':<7} {'':<22} {'':>9} {ratio}")
        print(f"{'':<7} {'per epoch':<22} {'':>9} {per_epoch}")
        print(f"{'':<7} {'stack':<22} {'':>9} {stack}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
