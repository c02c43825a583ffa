"""Orchestration speed: what the executor costs per trial, and how well it fills the cores.

Prints figures, asserts nothing (they depend on the machine, and on what else runs on it).

(a) Overhead per trial, two ways:

    - wall: (wall time x cores - summed compute) / trials, "compute" being the time spent inside
      the objective (timed around the same ``search.evaluate`` call in every executor) plus, for
      ours, the outer refits. Everything else is overhead: sampling (TPE), Ray, the store, idle
      cores. This is the figure that matters on a machine of your own, but other work on the
      machine inflates it (the load average is printed);
    - CPU: (CPU time of every process of the executor - the objective's CPU time) / trials. The
      processes are this script and, for the Ray executors, every Ray process under it (system
      processes and workers); the objective's CPU time per trial is measured once, serially,
      before the runs (and our outer refits' CPU time is taken from their workers). Other work on
      the machine barely moves this one.

    The objective is near zero on purpose: GaussianNB (``naive_bayes``, one tuned parameter) on
    a 60-row dataset, a millisecond or two. The executors run the same cells (dataset x outer
    fold), the same search space, the same TPE settings (trial 0 = the library default, then TPE
    with the study's startup count) and the same trials per cell, one thread per trial:

    - ours: ``runner.execute`` on a generated study, exactly as ``python -m benchmark run``
      does it (one streaming Ray task per cell, TPE reseeded per trial inside the task, every
      trial stored in SQLite as it arrives), from the call to the last stored result (Ray is
      already up; the final parquet export is printed separately);
    - Optuna: ``study.optimize(objective, n_trials, n_jobs=CORES)`` per cell, in-memory storage
      (threads in one process: they also wait for each other's GIL inside the timed objective,
      which flatters the wall figure); and the same with a SQLite storage, as ours keeps every
      trial (Optuna's RDB storage: several round trips per trial), on ``--sqlite-cells`` cells;
    - Ray Tune: ``Tuner`` with ``OptunaSearch`` (same sampler settings), one trial per core at a
      time, per cell, at its fastest settings for many short trials (``reuse_actors=True``, no
      result loggers; with its defaults it took over 2 s per trial here). It still costs a tenth
      of a second or more per trial, so it runs fewer cells (same trials per cell):
      ``--tune-cells``.

(b) Parallel efficiency on the bundled ``quick`` study: summed compute (trial seconds plus the
    outer refits, including the checks' shuffled-label refits done in the cells) / (wall x
    cores), from ``execute()`` (Ray up, data loaded) to the last stored result; then the same for
    the whole run, with the export and the checks phase (its refits are Ray tasks too) included.
    A few minutes on 2 cores.

(c) Threads inside a Ray task: BLAS/OpenMP pools (threadpoolctl) and torch's thread count seen
    by the code that runs a cell, against ``resources.cpus_per_trial``.

    python scripts/bench_orchestration.py [--datasets 20 --folds 10 --trials 50]
        [--tune-cells 4] [--sqlite-cells 20] [--skip ours,optuna,optuna-sqlite,tune,threads,quick]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled
from benchmark import learners, runner  # noqa: E402
from benchmark.ray_session import Session  # noqa: E402
from benchmark.records import OuterEvent, TrialEvent  # noqa: E402
from benchmark.search import evaluate  # noqa: E402
from benchmark.seeding import derive_seed  # noqa: E402

LEARNER = "naive_bayes"
TICK = os.sysconf("SC_CLK_TCK")


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


# ------------------------------------------------------------------------------ measuring

def _tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and every process under it (with their reaped children)."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    tree, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, (ppid, _) in stats.items() if ppid in frontier} - tree
        tree |= frontier
    return sum(stats[pid][1] for pid in tree if pid in stats) / TICK


@dataclass
class Run:
    label: str
    n: int  # trials
    wall: float
    compute: float  # seconds inside the objective (and our outer refits), as timed there
    cpu: float  # CPU seconds of the executor's processes
    extra_cpu: float = 0.0  # CPU seconds of work the others do not do (our outer refits)


class Meter:
    def __init__(self, tree: bool):
        self.tree = tree

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), self._cpu()
        return self

    def _cpu(self) -> float:
        return _tree_cpu(os.getpid()) if self.tree else time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.t0, self._cpu() - self.c0

    def __exit__(self, *exc):
        pass


def calibrate(plan, n: int = 400) -> float:
    """CPU seconds of one objective call, serially, on configurations drawn from the space."""
    from threadpoolctl import threadpool_limits

    module, rng = learners.get(LEARNER), np.random.default_rng(0)
    cells = list(_cells(plan))
    with threadpool_limits(limits=1):
        c0 = time.process_time()
        for i in range(n):
            cell, data, fold, space, settings, seed = cells[i % len(cells)]
            config = space.config({k: float(np.exp(rng.uniform(np.log(d.low), np.log(d.high))))
                                   for k, d in space.distributions().items()})
            evaluate(module, config, data, fold, settings.metric, seed, 1)
        return (time.process_time() - c0) / n


def report(run: Run, cores: int, objective_cpu: float) -> tuple[float, float]:
    wall_over = (run.wall * cores - run.compute) / run.n
    cpu_over = (run.cpu - run.extra_cpu) / run.n - objective_cpu
    print(f"  {run.label:<36} {run.n:>6} trials  wall {run.wall:7.2f} s  "
          f"overhead/trial: wall {wall_over * 1e3:7.2f} ms, CPU {cpu_over * 1e3:7.2f} ms")
    return wall_over, cpu_over


# ------------------------------------------------------------------------------ ours

def ours(plan) -> Run:
    """``runner.execute`` up to its last stored result: the parquet export and the checks phase
    that follow are not executor work, so they run (timed) afterwards."""
    from benchmark import results
    from benchmark.store import Store, default_url

    out = Path(tempfile.mkdtemp(prefix="bench_ours_"))
    export, checks = results.export, runner._run_checks
    results.export, runner._run_checks = (lambda *a, **k: None), (lambda *a, **k: None)
    try:
        with Meter(tree=True) as m:
            runner.execute(plan, out)
            wall, cpu = m.stop()
    finally:
        results.export, runner._run_checks = export, checks
    t = time.perf_counter()
    trials, _ = export(Store(default_url(out)), out)
    outer_wall, outer_cpu = _outer_seconds(out)
    print(f"    (ours: outer refits {outer_wall:.1f} s counted as compute and {outer_cpu:.1f} CPU s "
          f"left out of its CPU figure; the parquet export after the run took "
          f"{time.perf_counter() - t:.1f} s)")
    return Run("ours (runner.execute)", len(trials), wall, float(trials.seconds.sum()) + outer_wall,
               cpu, outer_cpu)


def _outer_seconds(run_dir: Path) -> tuple[float, float]:
    from benchmark.store import Store, default_url

    wall = cpu = 0.0
    for outer in Store(default_url(run_dir)).outer_evaluations():
        wall += float(outer.seconds or 0.0)
        cpu += float(outer.cpu_seconds or 0.0)
    return wall, cpu


# ------------------------------------------------------------------------------ the others

def _cells(plan):
    """(cell, data, fold, space, settings, cell seed) per cell, as our executor sees them."""
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


def optuna_threads(plan, cores: int, n_cells: int | None, sqlite: bool = False) -> Run:
    """Optuna's own ``n_jobs`` threads, per cell; in memory, or (``sqlite``) with every trial in
    a SQLite file as ours keeps them (a new file per run, Optuna's default RDB settings)."""
    import optuna
    from threadpoolctl import threadpool_limits

    module = learners.get(LEARNER)
    spent, n, cells = [], 0, 0
    storage = (optuna.storages.RDBStorage(
        f"sqlite:///{tempfile.mkdtemp(prefix='bench_optuna_')}/optuna.db") if sqlite else None)
    with threadpool_limits(limits=1), Meter(tree=False) as m:
        for cell, data, fold, space, settings, seed in list(_cells(plan))[:n_cells]:
            study = optuna.create_study(
                direction="maximize", storage=storage, study_name=cell.key,
                sampler=optuna.samplers.TPESampler(seed=seed,
                                                   n_startup_trials=settings.n_startup_trials))
            study.enqueue_trial(space.default_params())

            def objective(trial, data=data, fold=fold, space=space, settings=settings, seed=seed):
                config = space.config({k: _suggest(trial, k, d)
                                       for k, d in space.distributions().items()})
                t = time.perf_counter()
                try:
                    return evaluate(module, config, data, fold, settings.metric, seed, 1)[0]
                finally:
                    spent.append(time.perf_counter() - t)

            # The enqueued default first, alone: with n_jobs > 1 and an RDB storage two threads
            # can take the same enqueued trial (Optuna then fails "Cannot tell a COMPLETE trial").
            study.optimize(objective, n_trials=1)
            study.optimize(objective, n_trials=settings.trials - 1, n_jobs=cores)
            n, cells = n + len(study.trials), cells + 1
        wall, cpu = m.stop()
    where = f"SQLite, {cells} cells" if sqlite else "in memory"
    return Run(f"Optuna n_jobs={cores} ({where})", n, wall, sum(spent), cpu)


def ray_tune(plan, cores: int, n_cells: int) -> Run:
    import logging

    import optuna
    import ray

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no CSV/JSON/TB loggers
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    for name in ("ray.tune", "ray.train"):  # ResultGrid complains about the missing result files
        logging.getLogger(name).setLevel(logging.ERROR)
    module = learners.get(LEARNER)
    n, compute = 0, 0.0
    storage = tempfile.mkdtemp(prefix="bench_tune_")

    def trainable(config, data, fold, metric, seed):
        t = time.perf_counter()
        value, _ = evaluate(module, dict(config), data, fold, metric, seed, 1)
        tune.report({"score": value, "compute": time.perf_counter() - t})

    class Compute(tune.Callback):  # the results, as they arrive (no result files are written)
        def on_trial_result(self, iteration, trials, trial, result, **info):
            nonlocal n, compute
            n += 1
            compute += float(result["compute"])

    cells = list(_cells(plan))[:n_cells]
    with Meter(tree=True) as m:
        for i, (cell, data, fold, space, settings, seed) in enumerate(cells):
            search = OptunaSearch(space.distributions(), metric="score", mode="max",
                                  points_to_evaluate=[space.default_params()],
                                  sampler=optuna.samplers.TPESampler(
                                      seed=seed, n_startup_trials=settings.n_startup_trials))
            tuner = tune.Tuner(
                tune.with_resources(tune.with_parameters(
                    trainable, data=ray.put(data), fold=fold, metric=settings.metric, seed=seed),
                    {"cpu": 1}),
                tune_config=tune.TuneConfig(search_alg=search, num_samples=settings.trials,
                                            max_concurrent_trials=cores, reuse_actors=True),
                run_config=tune.RunConfig(name=f"cell{i}", storage_path=storage, verbose=0,
                                          callbacks=[Compute()]))
            with contextlib.redirect_stdout(io.StringIO()):  # its per-experiment banner
                tuner.fit()
        wall, cpu = m.stop()
    return Run(f"Ray Tune + OptunaSearch ({len(cells)} cells)", n, wall, compute, cpu)


# ------------------------------------------------------------------------------ quick

def parallel_efficiency(cores: int) -> None:
    plan = runner.prepare("quick")  # loads the data: not timed
    out = Path(tempfile.mkdtemp(prefix="bench_quick_"))
    last = {}

    def on_event(event):
        if isinstance(event, (TrialEvent, OuterEvent)):
            last["t"] = time.perf_counter()

    t0 = time.perf_counter()
    runner.execute(plan, out, on_event=on_event)
    t_end = time.perf_counter()
    trials = pd.read_parquet(out / "trials.parquet")
    outer, _ = _outer_seconds(out)
    compute = float(trials.seconds.sum()) + outer
    wall = last["t"] - t0
    print(f"  quick: {len(plan.cells())} cells, {len(trials)} trials; compute: trials "
          f"{trials.seconds.sum():.1f} s + outer refits {outer:.1f} s")
    print(f"  parallel efficiency = compute / (wall x cores) = {compute:.1f} / ({wall:.1f} x "
          f"{cores}) = {compute / (wall * cores):.1%}  (from execute() to the last stored result)")
    checks = json.loads((out / "checks.json").read_text())
    refits = float(checks.get("seconds_refit_jobs", 0.0))
    print(f"  after that, the parquet export and the checks phase took {t_end - last['t']:.1f} s "
          f"more ({refits:.1f} s of refits as Ray tasks, {checks.get('seconds_refits', 0):.1f} s "
          f"wall); the whole run: ({compute:.1f} + {refits:.1f}) / ({t_end - t0:.1f} x {cores}) = "
          f"{(compute + refits) / ((t_end - t0) * cores):.1%}")


def threads_report() -> None:
    from benchmark.ray_session import probe_threads

    for cpus in (1, 2):
        print(f"  cpus_per_trial={cpus}: {probe_threads(cpus)}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", type=int, default=20)
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--tune-cells", type=int, default=4)
    ap.add_argument("--optuna-cells", type=int, default=None, help="default: all cells")
    ap.add_argument("--sqlite-cells", type=int, default=20,
                    help="cells for Optuna n_jobs with SQLite storage (slower per trial)")
    ap.add_argument("--cores", type=int, default=os.cpu_count())
    ap.add_argument("--skip", default="", help="comma list of: ours, optuna, optuna-sqlite, tune, threads, quick")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    cores = args.cores
    folder = Path(tempfile.mkdtemp(prefix="bench_study_"))
    plan = runner.prepare(str(write_study(folder, args.datasets, args.folds, args.trials)))
    objective_cpu = calibrate(plan)
    print(f"Overhead per trial: {len(plan.cells())} cells x {args.trials} trials of {LEARNER} "
          f"on 60 rows, {cores} cores; the objective alone: {objective_cpu * 1e3:.2f} ms CPU")
    print(f"  (load average before: {_load()}; other work on the machine inflates the wall "
          f"figures)")
    with Session(num_cpus=cores):
        runs = {}
        if "ours" not in skip:
            runs["ours"] = ours(plan)
        if "optuna" not in skip:
            runs["optuna"] = optuna_threads(plan, cores, args.optuna_cells)
        if "optuna-sqlite" not in skip:
            runs["optuna-sqlite"] = optuna_threads(plan, cores, args.sqlite_cells, sqlite=True)
        if "tune" not in skip:
            runs["tune"] = ray_tune(plan, cores, args.tune_cells)
        figures = {k: report(r, cores, objective_cpu) for k, r in runs.items()}
        if "ours" in figures:
            for name in ("optuna", "optuna-sqlite", "tune"):
                if name in figures:
                    w, c = (figures[name][i] / figures["ours"][i] for i in (0, 1))
                    print(f"  {name} / ours, overhead per trial: wall {w:.1f}x, CPU {c:.1f}x")
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
