"""How often the shuffled-label controls cry wolf, and whether they still catch a leak.

Generated binary datasets of 50-100 examples (benchmark.checks.simulate) go through the
harness's own split plan, fit/predict functions and control refits, with logistic regression
and k-nearest neighbours at their library defaults, 3 outer folds and ``checks.controls: auto``;
no Ray. For each kind of dataset the script prints the share flagged by the controls (Holm over
the two learners, 0.05), by the rule they replace (one refit per fold, mean excess > 0.1 and a
t-test, per learner) and by the leakage audit at level "problem". Targets: at most 5% of clean
datasets flagged by the controls; every dataset with a leak flagged by the check that can see
it. It asserts nothing.

    python scripts/bench_controls.py [--clean 200] [--signal 100] [--leaky 40] [--seed 0]
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per fit: the figures do not depend on the machine

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmark.checks import controls, simulate  # noqa: E402

SCENARIOS = [  # label, kind, leak, which count, features
    ("clean: no signal, no leak", "clean", None, "clean", (10, 50, 200)),
    ("clean: strong real signal, no leak", "signal", None, "signal", (200,)),
    ("leak: test rows reach the fit", "clean", "test_rows_in_fit", "leaky", (10, 50, 200)),
    ("leak: a feature copies the label", "label_copy", None, "leaky", (10, 50, 200)),
    ("leak: duplicates across the split", "duplicates", None, "leaky", (10, 50, 200)),
]


def share(flags: list[bool]) -> str:
    k, n = int(sum(flags)), len(flags)
    low, high = _wilson(k, n)
    return f"{k:>3}/{n:<3} {100 * k / n:5.1f}% [{100 * low:4.1f}-{100 * high:5.1f}]"


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson 95% interval of a proportion."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clean", type=int, default=200, help="clean datasets without signal")
    ap.add_argument("--signal", type=int, default=100, help="clean datasets with strong signal")
    ap.add_argument("--leaky", type=int, default=40, help="datasets per kind of leak")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(f"controls: auto refits (TARGET_SE {controls.TARGET_SE}), one-sided test against the "
          f"fold nulls, Holm over {len(simulate.LEARNERS)} learners ({', '.join(simulate.LEARNERS)}) "
          f"at {controls.ALPHA}, tolerance 0.02; 3 outer folds; n in [50, 100]")
    print(f"{'datasets':<38} {'refits/cell':>11}  {'controls (new)':<26} {'old rule':<26} "
          f"{'leakage audit':<26} {'seconds':>7}")
    for s, (label, kind, leak, count, features) in enumerate(SCENARIOS):
        t0 = time.perf_counter()
        base = args.seed * 1_000_000 + s * 10_000  # each scenario its own datasets
        shapes = simulate.sizes(getattr(args, count), base, features=features)
        if kind == "signal":  # a leukaemia-like set: 72 examples, a third in the smaller class
            shapes = [(72, p, 0.35) for _, p, _ in shapes]
        results = [simulate.trial(kind, base + i, n, p, leak=leak, prevalence=prev)
                   for i, (n, p, prev) in enumerate(shapes)]
        refits = np.median([r["refits"] / 3 for r in results])
        print(f"{label:<38} {refits:>11.0f}  {share([r['controls'] for r in results]):<26} "
              f"{share([r['legacy'] for r in results]):<26} "
              f"{share([bool(r['audit']) for r in results]):<26} {time.perf_counter() - t0:>7.0f}")
    print("Shares flagged (Wilson 95% interval). Controls judge learners trained on shuffled "
          "labels; a feature that copies the label and duplicates across the split are invisible "
          "to them by construction and are the audit's (proxy, duplicates).")


if __name__ == "__main__":
    main()
