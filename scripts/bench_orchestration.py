"""Orchestration speed: what the executor costs per trial, and how well it fills the cores.

Prints figures, asserts nothing (they depend on the machine).

(a) Overhead per trial = (wall time x cores - summed compute) / trials, where "compute" is the
    time spent inside the objective (the learner's fit and scoring, timed around the same
    ``search.evaluate`` call in every executor) plus, for ours, the outer refits. Everything
    else is overhead: sampling (TPE), Ray, the store, idle cores. The objective is near zero
    on purpose: GaussianNB (``naive_bayes``, one tuned parameter) on a 60-row dataset, a
    millisecond or two. Three executors run the same cells (dataset x outer fold), the same
    search space, the same TPE settings (trial 0 = the library default, then TPE with the
    study's startup count) and the same number of trials per cell:

    - ours: ``runner.execute`` on a generated study, exactly as ``python -m benchmark run``
      does it (one streaming Ray task per cell, TPE reseeded per trial inside the task, every
      trial written to the SQLite store as it arrives), minus Ray's start-up and the final
      parquet export, which are printed separately;
    - Optuna: ``study.optimize(objective, n_trials, n_jobs=CORES)`` per cell, in-memory storage
      (threads in one process);
    - Ray Tune: ``Tuner`` with ``OptunaSearch`` (same sampler settings), one trial per core at a
      time, per cell, at its fastest settings for many short trials (``reuse_actors=True``, no
      result loggers; with the defaults it took over 2 s per trial here). It still costs a tenth
      of a second or more per trial, so it gets fewer cells (same trials per cell):
      ``--tune-cells``.

    Our executor and Optuna also differ in what "compute" includes under contention: Optuna's
    threads wait for each other's GIL inside the timed objective, which flatters its overhead;
    the figure with thread CPU time is printed too.

(b) Parallel efficiency on the bundled ``quick`` study: summed compute (trial seconds plus the
    outer refits, including the checks' shuffled-label refits done in the cells) / (wall x
    cores), from ``execute()`` (Ray up, data loaded) to the last stored result; the export and
    checks phase that follow are timed separately. A few minutes on 2 cores.

(c) Threads inside a Ray task: BLAS/OpenMP limits (threadpoolctl) and torch's thread count seen
    by the code that runs a cell, against ``resources.cpus_per_trial``.

    python scripts/bench_orchestration.py [--datasets 20 --folds 10 --trials 50]
        [--tune-cells 4] [--skip quick,tune,optuna]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled
from benchmark import learners, runner  # noqa: E402
from benchmark.execution import Session  # noqa: E402
from benchmark.search import evaluate  # noqa: E402
from benchmark.seeding import derive_seed  # noqa: E402

LEARNER = "naive_bayes"


def write_study(folder: Path, n_datasets: int, folds: int, trials: int) -> Path:
    """``n_datasets`` small CSV datasets x ``folds`` outer folds x naive_bayes."""
    names = []
    for i in range(n_datasets):
        rng = np.random.default_rng(i)
        X = rng.normal(size=(60, 4))
        y = (X[:, 0] + rng.normal(scale=0.8, size=60) > 0).astype(int)
        frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(4)])
        frame["label"] = np.where(y == 1, "a", "b")
        frame.to_csv(folder / f"d{i}.csv", index=False)
        spec = {"name": f"d{i}", "task": "binary", "source": {"kind": "file", "path": f"d{i}.csv"},
                "target": "label", "sensitive": False, "provenance": {"source": "bench"}}
        (folder / f"d{i}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        names.append(f"d{i}.yaml")
    path = folder / "overhead.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: overhead
        datasets: {names}
        learners: [{LEARNER}]
        seed: 1
        budget: {{trials: {trials}}}
        splits: {{outer_folds: {folds}, inner: holdout, holdout_fraction: 0.3}}
        """))
    return path


def line(label: str, wall: float, cores: int, compute: float, n: int) -> float:
    over = (wall * cores - compute) / n
    print(f"  {label:<34} trials {n:>6}  wall {wall:8.2f} s  compute {compute:8.2f} s  "
          f"overhead/trial {over * 1e3:7.2f} ms")
    return over


# ------------------------------------------------------------------------------ ours

def ours(plan, cores: int) -> tuple[float, int]:
    out = Path(tempfile.mkdtemp(prefix="bench_ours_"))
    last = {}

    def on_event(event):
        if event["kind"] != "start":
            last["t"] = time.perf_counter()

    t0 = time.perf_counter()
    runner.execute(plan, out, on_event=on_event)
    t_end = time.perf_counter()
    trials = pd.read_parquet(out / "trials.parquet")
    outer = _outer_seconds(out)
    n = len(trials)
    compute = float(trials.seconds.sum()) + outer
    wall = last["t"] - t0
    over = line("ours (runner.execute)", wall, cores, compute, n)
    print(f"    of which outer refits {outer:.2f} s counted as compute; the store's final export "
          f"(parquet) took {t_end - last['t']:.2f} s more")
    return over, n


def _outer_seconds(run_dir: Path) -> float:
    from benchmark.store import Store, default_url

    total = 0.0
    for study in Store(default_url(run_dir)).all_cells():
        total += float((study.user_attrs.get("outer") or {}).get("seconds") or 0.0)
    return total


# ------------------------------------------------------------------------------ the others

def _cells(plan):
    """(data, fold, space, settings, cell seed) per cell, as our executor sees them."""
    for cell in plan.cells():
        data = plan.datasets[cell.dataset]
        fold = plan.splits[cell.dataset].folds[cell.fold]
        settings = plan.settings(cell.dataset, 1)
        seed = derive_seed(settings.seed, cell.dataset, cell.fold, cell.learner)
        yield cell, data, fold, plan.spaces[cell.learner], settings, seed


def _suggest(trial, name, dist):
    import optuna

    if isinstance(dist, optuna.distributions.FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log, step=dist.step)
    if isinstance(dist, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log, step=dist.step)
    return trial.suggest_categorical(name, dist.choices)


def optuna_threads(plan, cores: int, n_cells: int | None) -> tuple[float, int]:
    import optuna

    module = learners.get(LEARNER)
    spent, cpu, n = [], [], 0
    cells = list(_cells(plan))[:n_cells]
    t0 = time.perf_counter()
    for cell, data, fold, space, settings, seed in cells:
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=settings.n_startup_trials))
        study.enqueue_trial(space.default_params())

        def objective(trial, data=data, fold=fold, space=space, settings=settings):
            config = space.config({k: _suggest(trial, k, d) for k, d in space.distributions().items()})
            t, c = time.perf_counter(), time.thread_time()
            try:
                value, _ = evaluate(module, config, data, fold, settings.metric, seed, 1)
            finally:
                spent.append(time.perf_counter() - t)
                cpu.append(time.thread_time() - c)
            return value

        study.optimize(objective, n_trials=settings.trials, n_jobs=cores)
        n += len(study.trials)
    wall = time.perf_counter() - t0
    over = line(f"Optuna optimize(n_jobs={cores})", wall, cores, sum(spent), n)
    print(f"    its threads share one interpreter: timed as thread CPU time instead (no waiting "
          f"for the GIL), compute is {sum(cpu):.2f} s and the overhead "
          f"{(wall * cores - sum(cpu)) / n * 1e3:.2f} ms per trial")
    return over, n


def ray_tune(plan, cores: int, n_cells: int) -> tuple[float, int]:
    import optuna
    import ray

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/JSON/TB loggers
    import logging

    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    for name in ("ray.tune", "ray.train"):  # ResultGrid complains about the missing result files
        logging.getLogger(name).setLevel(logging.ERROR)

    module = learners.get(LEARNER)
    n, compute = 0, 0.0
    storage = tempfile.mkdtemp(prefix="bench_tune_")
    cells = list(_cells(plan))[:n_cells]

    def trainable(config, data, fold, metric, seed):
        t = time.perf_counter()
        value, _ = evaluate(module, dict(config), data, fold, metric, seed, 1)
        tune.report({"score": value, "compute": time.perf_counter() - t})

    class Compute(tune.Callback):  # the results, as they arrive (no result files are written)
        def on_trial_result(self, iteration, trials, trial, result, **info):
            nonlocal n, compute
            n += 1
            compute += float(result["compute"])

    t0 = time.perf_counter()
    for i, (cell, data, fold, space, settings, seed) in enumerate(cells):
        search = OptunaSearch(space.distributions(), metric="score", mode="max",
                              points_to_evaluate=[space.default_params()],
                              sampler=optuna.samplers.TPESampler(
                                  seed=seed, n_startup_trials=settings.n_startup_trials))
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(trainable, data=ray.put(data), fold=fold,
                                                     metric=settings.metric, seed=seed), {"cpu": 1}),
            tune_config=tune.TuneConfig(search_alg=search, num_samples=settings.trials,
                                        max_concurrent_trials=cores, reuse_actors=True),
            run_config=tune.RunConfig(name=f"cell{i}", storage_path=storage, verbose=0,
                                      callbacks=[Compute()]))
        tuner.fit()
    wall = time.perf_counter() - t0
    return line(f"Ray Tune + OptunaSearch ({len(cells)} cells)", wall, cores, compute, n), n


# ------------------------------------------------------------------------------ quick

def parallel_efficiency(cores: int) -> None:
    plan = runner.prepare("quick")  # loads the data: not timed
    out = Path(tempfile.mkdtemp(prefix="bench_quick_"))
    last = {}

    def on_event(event):
        if event["kind"] != "start":
            last["t"] = time.perf_counter()

    t0 = time.perf_counter()
    runner.execute(plan, out, on_event=on_event)
    t_end = time.perf_counter()
    trials = pd.read_parquet(out / "trials.parquet")
    outer = _outer_seconds(out)
    compute = float(trials.seconds.sum()) + outer
    print(f"  quick: {len(plan.cells())} cells, {len(trials)} trials; compute: trials "
          f"{trials.seconds.sum():.1f} s + outer refits {outer:.1f} s on {cores} cores")
    wall = last["t"] - t0
    print(f"  parallel efficiency = compute / (wall x cores) = {compute:.1f} / ({wall:.1f} x "
          f"{cores}) = {compute / (wall * cores):.1%}  (from execute() to the last stored result)")
    print(f"  after that, the parquet export and the checks phase took {t_end - last['t']:.1f} s "
          f"more (not executor work; with it, {compute / ((t_end - t0) * cores):.1%})")


def threads_report() -> None:
    from benchmark.execution import probe_threads

    for cpus in (1, 2):
        seen = probe_threads(cpus)
        print(f"  cpus_per_trial={cpus}: {seen}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=int, default=20)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--tune-cells", type=int, default=4)
    ap.add_argument("--optuna-cells", type=int, default=None, help="default: all cells")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--skip", default="", help="comma list of: ours, optuna, tune, quick, threads")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    cores = args.cores
    folder = Path(tempfile.mkdtemp(prefix="bench_study_"))
    plan = runner.prepare(str(write_study(folder, args.datasets, args.folds, args.trials)))
    print(f"Overhead per trial: {len(plan.cells())} cells x {args.trials} trials of {LEARNER} "
          f"on 60 rows, {cores} cores: (wall x cores - compute) / trials")
    print(f"  (load average before: {_load()}; other work on the machine inflates every figure)")
    with Session(num_cpus=cores):
        figures = {}
        if "ours" not in skip:
            figures["ours"] = ours(plan, cores)
        if "optuna" not in skip:
            figures["optuna"] = optuna_threads(plan, cores, args.optuna_cells)
        if "tune" not in skip:
            figures["tune"] = ray_tune(plan, cores, args.tune_cells)
        if "ours" in figures:
            for name in ("optuna", "tune"):
                if name in figures:
                    print(f"  {name} / ours, overhead per trial: "
                          f"{figures[name][0] / figures['ours'][0]:.1f}x")
        print(f"  (load average after: {_load()})")
        if "threads" not in skip:
            print("Threads inside a cell's Ray task (should equal cpus_per_trial):")
            threads_report()
        if "quick" not in skip:
            print("Parallel efficiency on the bundled `quick` study:")
            parallel_efficiency(cores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
