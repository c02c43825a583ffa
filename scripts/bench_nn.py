"""Speed figures for the neural side; prints, never asserts (timings depend on the machine).

(a) Training throughput of our trainer (and of the full estimator fit) against a minimal plain
    PyTorch loop: same MLP, data, batch size, epochs and threads, interleaved repeats, median.
(b) Fit times of the deep learners' default configurations and of random configurations from
    their search spaces, on synthetic stand-ins of the bundled datasets' shapes.

    python scripts/bench_nn.py [--device cpu|cuda|auto] [--threads 1] [--repeats 5] [--configs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled
from benchmark import learners
from benchmark.nn import TorchClassifier, device_info
from benchmark.nn.estimator import resolve_device
from benchmark.nn.modules import MLP
from benchmark.nn.trainer import TrainConfig, train
from benchmark.spaces import load_space


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(model, X, y, epochs: int, batch_size: int, lr: float, gen) -> None:
    """The reference: the shortest correct PyTorch loop over on-device tensors."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(X), generator=gen, device=X.device)
        for i in range(0, len(X), batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def throughput(device: torch.device, repeats: int, n=4096, d=64, k=10, epochs=10, bs=128) -> None:
    rng = np.random.default_rng(0)
    X_np = rng.normal(size=(n, d)).astype(np.float32)
    y_np = (X_np[:, :k].argmax(1)).astype(np.int64)
    X, y = torch.as_tensor(X_np, device=device), torch.as_tensor(y_np, device=device)
    Y = F.one_hot(y, k).float()
    cfg = TrainConfig(task="classification", lr=1e-3, weight_decay=1e-5, batch_size=bs,
                      max_epochs=epochs)

    def fresh():
        torch.manual_seed(0)
        return MLP(d, k, depth=2, width=256, dropout=0.1).to(device), \
            torch.Generator(device=device).manual_seed(1)

    def run_plain():
        model, gen = fresh()
        plain_loop(model, X, y, epochs, bs, 1e-3, gen)

    def run_trainer():
        model, gen = fresh()
        train(model, X, Y, cfg, gen)

    def run_estimator():
        TorchClassifier(module="mlp", module__depth=2, module__width=256, module__dropout=0.1,
                        lr=1e-3, batch_size=bs, max_epochs=epochs, device=str(device),
                        threads=torch.get_num_threads()).fit(X_np, y_np)

    runs = {"plain loop": run_plain, "our trainer": run_trainer, "estimator.fit": run_estimator}
    times = {name: [] for name in runs}
    for rep in range(repeats + 1):  # the first round is warm-up
        for name, fn in runs.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            if rep:
                times[name].append(time.perf_counter() - t0)
    base = n * epochs / statistics.median(times["plain loop"])
    print(f"(a) throughput, MLP 2x256 on {n}x{d}, {k} classes, batch {bs}, {epochs} epochs, "
          f"{torch.get_num_threads()} thread(s), {device}, median of {repeats}:")
    for name, ts in times.items():
        rate = n * epochs / statistics.median(ts)
        print(f"    {name:<14} {rate:>11,.0f} examples/s   ratio to plain {rate / base:.3f}")


def stand_ins(seed: int = 0) -> dict[str, tuple[str, dict[str, np.ndarray], np.ndarray]]:
    """name -> (task, views, y), shaped like the bundled datasets (plus a 28x28 image set)."""
    rng = np.random.default_rng(seed)

    def tab(n, d, k):
        X = rng.normal(size=(n, d))
        y = (X[:, :k].argmax(1) if k > 2 else (X[:, :3].sum(1) + rng.normal(size=n) > 0))
        return X, np.asarray(y, dtype=np.int64)

    def images(n, side, k):
        y = np.arange(n) % k
        protos = rng.random((k, 1, side, side))
        X = np.clip(protos[y] + rng.normal(0, 0.3, (n, 1, side, side)), 0, 1).astype(np.float32)
        return X, y

    def dna(n, length):
        y = np.arange(n) % 2
        lengths = rng.integers(80, length + 1, n)
        X = np.zeros((n, length, 4), np.float32)
        for i, L in enumerate(lengths):
            X[i, np.arange(L), rng.integers(0, 4, L)] = 1.0
            if y[i]:
                s = rng.integers(0, L - 6)
                X[i, s:s + 6] = np.eye(4, dtype=np.float32)[[3, 0, 3, 0, 0, 3]]  # TATAAT
        return X, y

    bc, digits, expr = tab(569, 30, 2), images(1797, 8, 10), tab(120, 2000, 2)
    mnist, seqs = images(1000, 28, 10), dna(400, 120)
    kmers = seqs[0].reshape(400, -1)[:, :64].astype(np.float64)  # a 64-column flat stand-in
    return {
        "breast_cancer 569x30": ("binary", {"tabular": bc[0]}, bc[1]),
        "digits 1797x8x8": ("multiclass", {"tabular": digits[0].reshape(1797, -1).astype(float),
                                           "image": digits[0]}, digits[1]),
        "expression 120x2000": ("binary", {"tabular": expr[0]}, expr[1]),
        "dna 400xL120": ("binary", {"tabular": kmers, "onehot": seqs[0]}, seqs[1]),
        "images 1000x28x28": ("multiclass", {"tabular": mnist[0].reshape(1000, -1).astype(float),
                                             "image": mnist[0]}, mnist[1]),
    }


def random_configs(name: str, count: int, seed: int = 0) -> list[dict]:
    space = load_space(name)
    sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(sampler=sampler)
    return [space.config(study.ask(space.distributions()).params) for _ in range(count)]


def _time_fit(name, config, task, X, y, tr, va, device):
    est = learners.get(name).build(config, task, seed=0, threads=torch.get_num_threads())
    est.set_params(device=str(device))
    t0 = time.perf_counter()
    try:
        est.fit(X[tr], y[tr], eval_set=(X[va], y[va]))
    except FloatingPointError:
        return time.perf_counter() - t0, None
    return time.perf_counter() - t0, est.n_epochs_


def fit_times(device: torch.device, n_configs: int) -> None:
    print(f"\n(b) fit time of one trial (inner fit with early stopping; 2/3 of rows, 80/20 "
          f"train/validation), {torch.get_num_threads()} thread(s), {device}:")
    print(f"    {'learner':<7} {'dataset':<22} {'default s':>9} {'epochs':>6} "
          f"{f'random x{n_configs} median s':>20} {'max s':>6}")
    order = {"tabular": ["mlp", "resnet"], "onehot": ["cnn1d"], "image": ["cnn2d"]}
    for ds, (task, views, y) in stand_ins().items():
        idx = np.random.default_rng(1).permutation(len(y))[: 2 * len(y) // 3]
        cut = int(0.8 * len(idx))
        tr, va = idx[:cut], idx[cut:]
        for view, names in order.items():
            if view not in views:
                continue
            for name in names:
                space = load_space(name)
                X = views[view]
                t_def, ep = _time_fit(name, space.default_config(), task, X, y, tr, va, device)
                rand = [_time_fit(name, c, task, X, y, tr, va, device)[0]
                        for c in random_configs(name, n_configs)]
                print(f"    {name:<7} {ds:<22} {t_def:>9.2f} {ep if ep else 'fail':>6} "
                      f"{statistics.median(rand):>20.2f} {max(rand):>6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--configs", type=int, default=5, help="random configurations per cell")
    ap.add_argument("--skip-fit-times", action="store_true")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print("device:", device_info())
    throughput(device, args.repeats)
    if not args.skip_fit_times:
        fit_times(device, args.configs)


if __name__ == "__main__":
    main()
