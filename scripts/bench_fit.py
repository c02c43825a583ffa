"""Fit time of every learner's default configuration on every bundled dataset it accepts.

Uses the harness's own code path (``fitting.fit`` on the first outer fold's first inner split of
the `quick` split rule: early stopping on the inner validation rows where the learner uses
them), one thread, median of ``--repeats``. Runs on the CPU, then again on the GPU where one is
present (deep learners through torch, LightGBM and CatBoost where their builds support it).
Prints a table, one row per learner (epochs or boosting rounds found in brackets); asserts
nothing.

    python scripts/bench_fit.py [--repeats 1] [--threads 1] [--device cpu|cuda|both]
                                [--learners a,b] [--datasets x,y]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from threadpoolctl import threadpool_limits

from benchmark import learners, paths
from benchmark.data import load_dataset, load_spec
from benchmark.search import fit
from benchmark.spaces import load_space
from benchmark.splits import make_plan

# what each family's estimators call the device, and its GPU name
GPU_NAME = {"deep": "cuda", "classical": "gpu"}
HAS_DEVICE = {"lightgbm", "catboost"}  # classical learners with a device setting


def gpu_present() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return torch.cuda.is_available()


def time_cell(module, config, ds, name, repeats, threads) -> str:
    fold = make_plan(name, ds.y, ds.groups, seed=0, outer_folds=3).folds[0]
    train, val = fold.inner[0]
    times, rounds = [], None
    try:
        with threadpool_limits(threads):
            for _ in range(repeats):
                t0 = time.perf_counter()
                model = fit(module, config, ds, train, 0, threads, validation=val)
                times.append(time.perf_counter() - t0)
                rounds = getattr(model, "best_epoch_", None)
    except Exception as exc:  # a learner that fails here says so in its cell
        return f"error: {type(exc).__name__}"
    cell = f"{statistics.median(times):.2f}"
    return f"{cell} ({rounds})" if rounds is not None else cell


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", choices=["cpu", "cuda", "both"], default="both",
                    help="both: the CPU, then the GPU where one is present")
    ap.add_argument("--learners", default="", help="comma-separated (default: all)")
    ap.add_argument("--datasets", default="", help="comma-separated (default: all bundled)")
    args = ap.parse_args()
    names = args.datasets.split(",") if args.datasets else sorted(
        p.stem for p in paths.DATASETS.glob("*.yaml"))
    chosen = args.learners.split(",") if args.learners else learners.ALL
    data = {n: load_dataset(load_spec(n), 3) for n in names}
    devices = {"cpu": ["cpu"], "cuda": ["cuda"], "both": ["cpu"] + (["cuda"] * gpu_present())}
    for device in devices[args.device]:
        print(f"\ndefault-configuration fit seconds on {device}, median of {args.repeats}, "
              f"{args.threads} thread(s); (epochs or boosting rounds found)")
        print(f"{'learner':<15}" + "".join(f"{n:>18}" for n in names), flush=True)
        for learner in chosen:
            module, space = learners.get(learner), load_space(learner)
            config = space.default_config()
            if module.FAMILY == "deep" or learner in HAS_DEVICE:
                config["device"] = GPU_NAME[module.FAMILY] if device == "cuda" else "cpu"
            elif device == "cuda":
                continue  # no GPU path: its CPU row stands
            cells = [time_cell(module, config, data[n], n, args.repeats, args.threads)
                     if learners.accepts(module, data[n].modality, data[n].task) else "-"
                     for n in names]
            print(f"{learner:<15}" + "".join(f"{c:>18}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
