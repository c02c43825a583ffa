"""Training throughput of each deep learner's harness fit against a plain PyTorch loop; prints,
never asserts (timings depend on the machine).

For each deep learner, on the bundled data of its modality (an inner split as `quick` makes it:
80/20 of three quarters of the rows): the harness's fit (``search.fit``: the learner's estimator
at its space's default configuration, early stopping on the inner validation rows), then a plain
loop written here on a fresh module of the same architecture and settings (the estimator's own
preprocessing, optimizer, learning rate, weight decay, schedule, batch size) for as many epochs
as the harness trained, with no validation pass and no early-stopping bookkeeping. For realmlp
also the authors' trainer (pytabkit's RealMLP-TD at its defaults, the same epochs and batch
size, the validation rows handed over). Figures are training rows x epochs per second of CPU
time (one thread), median of ``--repeats``, the two measured alternately.

    python scripts/bench_nn_learners.py [--repeats 2] [--max-epochs 30] [--learners a b]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmark import learners  # noqa: E402
from benchmark.data.build import load_dataset  # noqa: E402
from benchmark.nn.modules import build_module  # noqa: E402
from benchmark.search import fit  # noqa: E402
from benchmark.spaces import load_space  # noqa: E402

DATA = {"tabular": "breast_cancer", "sequence": "promoters", "image": "breastmnist"}
NEW = ["tabm", "realmlp", "mlp_plr", "cnn1d_dilated", "resnet2d"]
OLD = ["mlp", "resnet", "cnn1d", "cnn2d"]


def split(n: int) -> tuple[np.ndarray, np.ndarray]:
    """An inner 80/20 split of three quarters of the rows (as scripts/bench_nn.py)."""
    rows = np.random.default_rng(1).permutation(n)[: 3 * n // 4]
    cut = int(0.8 * len(rows))
    return rows[:cut], rows[cut:]


def cpu(f, *args):
    """(seconds of CPU time, result) of ``f(*args)``."""
    t0 = time.process_time()
    out = f(*args)
    return time.process_time() - t0, out


def plain_loop(est, X, y, epochs: int) -> None:
    """``epochs`` epochs of minibatch training of a fresh module like ``est``'s, no validation."""
    est._device()
    data = est._prepare(X, y, None)  # the estimator's own preprocessing and training targets
    torch.manual_seed(int(est.random_state))
    net = build_module(est.module, tuple(data.X.shape[1:]), data.d_out, **est._module_kwargs())
    if est.optimizer == "adamw":
        opt = torch.optim.AdamW(net.parameters(), lr=est.lr, weight_decay=est.weight_decay)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=est.lr, momentum=0.9, nesterov=True,
                              weight_decay=est.weight_decay)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=int(est.max_epochs))
             if est.schedule == "cosine" else None)
    loss = F.cross_entropy if data.task == "classification" else F.mse_loss
    n, bs = len(data.X), min(int(est.batch_size), len(data.X))
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for start in range(0, n, bs):
            idx = perm[start:start + bs]
            if len(idx) < 2:  # BatchNorm cannot train on one row (the harness drops it too)
                continue
            opt.zero_grad()
            loss(net(data.X[idx]), data.Y[idx]).backward()
            opt.step()
        if sched is not None:
            sched.step()


def pytabkit_fit(task: str, X, y, Xv, yv, epochs: int, batch_size: int) -> None:
    from pytabkit import RealMLP_TD_Classifier, RealMLP_TD_Regressor

    cls = RealMLP_TD_Regressor if task == "regression" else RealMLP_TD_Classifier
    with warnings.catch_warnings():  # Lightning's deprecation notices
        warnings.simplefilter("ignore")
        cls(n_epochs=epochs, batch_size=batch_size, random_state=0, n_threads=1, device="cpu",
            verbosity=0).fit(X, y, Xv, yv)


def bench(name: str, args, cache: dict) -> dict:
    module = learners.get(name)
    modality = next(m for m in DATA if m in module.VIEWS)
    if DATA[modality] not in cache:
        cache[DATA[modality]] = load_dataset(DATA[modality])
    ds = cache[DATA[modality]]
    X = ds.views[module.VIEWS[modality]]
    tr, va = split(len(ds.y))
    config = {**load_space(name).default_config(), "device": "cpu"}
    if args.max_epochs:
        config["max_epochs"] = min(int(config.get("max_epochs", 100)), args.max_epochs)
    fit(module, {**config, "max_epochs": 1}, ds, tr, 0, 1, validation=va)  # warm-up
    times = {"harness": [], "plain": [], "authors": []}
    epochs = None
    for r in range(args.repeats):
        def harness():
            nonlocal epochs
            s, model = cpu(fit, module, config, ds, tr, 0, 1, va)
            epochs = int(model.n_epochs_)
            times["harness"].append(s)

        def plain():
            est = module.build(config, ds.task, 0, 1)
            times["plain"].append(cpu(plain_loop, est, X[tr], ds.y[tr], epochs)[0])

        def authors():
            if name == "realmlp" and not args.no_authors:
                times["authors"].append(cpu(pytabkit_fit, ds.task, X[tr], ds.y[tr], X[va],
                                            ds.y[va], epochs, int(config["batch_size"]))[0])

        for step in [harness, plain, authors][::-1 if r % 2 else 1]:  # alternate the order
            step()
    rate = {k: len(tr) * epochs / statistics.median(v) for k, v in times.items() if v}
    what = f"{DATA[modality]} {'x'.join(map(str, X[tr].shape))}"
    return {"what": what, "epochs": epochs, **rate}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--learners", nargs="+", default=NEW + OLD)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--max-epochs", type=int, default=30, help="cap on the space's (0: none)")
    ap.add_argument("--no-authors", action="store_true", help="skip pytabkit's trainer")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"\ntraining rows x epochs per CPU second (1 thread, median of {args.repeats}; "
          f"default configuration, max_epochs capped at {args.max_epochs or 'the space'}'s)")
    print(f"{'learner':<14} {'data (train rows)':<26} {'epochs':>6} {'harness':>9} {'plain':>9} "
          f"{'ratio':>6} {'authors':>9}")
    cache: dict = {}
    with threadpool_limits(1):
        for name in args.learners:
            r = bench(name, args, cache)
            authors = f"{r['authors']:>9.0f}" if "authors" in r else f"{'-':>9}"
            print(f"{name:<14} {r['what']:<26} {r['epochs']:>6} {r['harness']:>9.0f} "
                  f"{r['plain']:>9.0f} {r['harness'] / r['plain']:>6.2f} {authors}", flush=True)
    print("ratio: harness / plain loop (below 1: the harness is slower); authors: pytabkit's "
          "RealMLP-TD trainer")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
