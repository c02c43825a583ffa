"""Error rates and power of the deep-vs-classical verdict, by simulation (benchmark.calibration).

Prints three tables: false positives when every learner is equally good, the selection effect
of picking a family's learner by its test score (six classical learners against one deep),
and the new rule's power against a true deep advantage.  Split designs: the bundled `quick` and
`full` studies (read from their YAML now, so a changed study is simulated as it stands) and
the old 3-fold, single-repeat design.  Fixed seed; a few seconds.

    python scripts/bench_calibration.py [--sims 20000] [--seed 0]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
import yaml

from benchmark import calibration as cal
from benchmark import paths, stats

ADVANTAGES = (0.01, 0.02, 0.05)


def study_splits(name: str, path: Path | None = None) -> cal.Splits:
    """A study's outer split design; ``repeats`` is 1 when the study does not set it."""
    path = path or paths.STUDIES / f"{name}.yaml"
    splits = (yaml.safe_load(path.read_text()) or {}).get("splits") or {}
    return cal.Splits(name, int(splits.get("outer_folds", 5)), int(splits.get("repeats", 1) or 1))


def designs() -> list[cal.Splits]:
    return [cal.Splits("old 3-fold", 3, 1), study_splits("quick"), study_splits("full")]


def _design(s: cal.Splits) -> str:
    return f"{s.name} ({s.repeats}x{s.outer_folds} = {s.n_folds} folds)"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows])


def false_positives(splits: list[cal.Splits], n_sims: int, seed: int) -> str:
    rows = []
    for s in splits:
        for n_c, n_d in ((1, 1), (6, 2)):
            r = cal.error_rates(cal.Scenario.equal(n_c, n_d), s, n_sims, seed)
            rows.append([_design(s), f"{n_c} vs {n_d}", str(r["old_deep"]), str(r["old_classical"]),
                         str(r["old_classical_side"]), str(r["new_deep"]), str(r["new_classical"])])
    return _table(["design", "classical vs deep", "old: deep", "old: classical",
                   "old: classical + not warranted", "new: deep", "new: classical"], rows)


def selection(splits: list[cal.Splits], n_sims: int, seed: int) -> str:
    rows = []
    for s in splits:
        r = cal.error_rates(cal.Scenario.equal(6, 1), s, n_sims, seed)
        rows.append([_design(s), str(r["old_classical"]), str(r["old_classical_side"]), str(r["old_deep"]),
                     str(r["new_classical"]), str(r["new_deep"])])
    return _table(["design", "old: classical", "old: classical + not warranted", "old: deep",
                   "new: classical", "new: deep"], rows)


def power(splits: list[cal.Splits], n_sims: int, seed: int) -> str:
    rows = []
    for s in splits:
        for n_c in (1, 6):
            rows.append([_design(s), f"{n_c} vs 1"] + [
                str(cal.error_rates(cal.Scenario.equal(n_c, 1, delta), s, n_sims, seed)["new_deep"])
                for delta in ADVANTAGES])
    return _table(["design", "classical vs deep"] + [f"true advantage {d:g}" for d in ADVANTAGES], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=20000, help="simulated datasets per cell (default 20000)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    start, splits = time.perf_counter(), designs()
    levels = stats.decide_levels(cal.THRESHOLD)
    print(f"Verdict calibration: {args.sims} simulated datasets per cell, seed {args.seed}.\n"
          f"Learner sd {cal.SIGMA} AUROC per outer fold, between-fold correlation 1/k, validation sd "
          f"{cal.VAL_SIGMA}, rope {cal.ROPE}.  Old rule: a side at posterior {cal.THRESHOLD}, 'not warranted' "
          f"below 0.5.\nNew rule: decide(threshold={cal.THRESHOLD}), a winner at {levels['right']:g}, "
          f"equivalence at {levels['rope']:g}.  Rates ± Monte Carlo standard error.\n")
    print("1. False positives: every learner equally good (any 'better' call is wrong)\n")
    print(false_positives(splits, args.sims, args.seed))
    print("\n2. Selection: six equally good classical learners against one equally good deep learner\n"
          "   (the old rule picks each family's learner by its mean test score; the new one by\n"
          "   inner validation in every fold)\n")
    print(selection(splits, args.sims, args.seed))
    print("\n3. Power of the new rule: rate of 'deep better' when every deep learner truly beats every\n"
          f"   classical one by the given AUROC (the rope is {cal.ROPE}, so an advantage of {cal.ROPE} sits on "
          "its edge)\n")
    print(power(splits, args.sims, args.seed))
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
