"""Fit time of every learner's default configuration on every bundled dataset it accepts.

Uses the harness's own code path (``search.fit`` on the first outer fold's first inner split of
the `quick` split rule), one thread, median of a few repeats. Prints a table; asserts nothing.

    python scripts/bench_fit.py [--repeats 3] [--threads 1]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    names = sorted(p.stem for p in paths.DATASETS.glob("*.yaml"))
    data = {n: load_dataset(load_spec(n), 3) for n in names}
    print(f"default-configuration fit seconds, median of {args.repeats}, {args.threads} thread(s)")
    print(f"{'learner':<14}" + "".join(f"{n:>15}" for n in names))
    for learner in learners.ALL:
        module, space = learners.get(learner), load_space(learner)
        cells = []
        for name in names:
            ds = data[name]
            if not learners.accepts(module, ds.modality, ds.task):
                cells.append("-")
                continue
            fold = make_plan(name, ds.y, ds.groups, seed=0, outer_folds=3).folds[0]
            train, val = fold.inner[0]
            times = []
            with threadpool_limits(args.threads):
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    fit(module, space.default_config(), ds, train, 0, args.threads, validation=val)
                    times.append(time.perf_counter() - t0)
            cells.append(f"{statistics.median(times):.3f}")
        print(f"{learner:<14}" + "".join(f"{c:>15}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
