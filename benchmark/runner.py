"""Run a study: validate everything, plan splits, stream cells through Ray into the store.

``prepare`` does all the checking (and data loading) before any compute is spent and raises one
ConfigError with every problem. ``execute`` resumes from whatever the store already holds: a cell
whose outer evaluation is stored is done; any other cell continues from its stored trials.
"""
from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import data as data_layer
from . import learners, manifest, metrics
from .data.dataset import Dataset
from .data.manifest import resolve as resolve_spec
from .errors import ConfigError, Problem, raise_if
from .execution import Job, Session
from .search import Cell, CellSettings, out_of_time
from .spaces import SearchSpace, load_space
from .splits import SplitPlan, make_plan
from .store import Store, default_url
from .study import StudySpec, check_names, dataset_ref, read_study, space_file


@dataclass
class Plan:
    study: StudySpec
    datasets: dict[str, Dataset]
    spaces: dict[str, SearchSpace]
    metrics: dict[str, str]
    splits: dict[str, SplitPlan]
    pairs: list[tuple[str, str]]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)

    def cells(self) -> list[Cell]:
        n = self.study.splits.outer_folds * self.study.splits.repeats  # (repeat, fold) flattened
        return [Cell(d, k, l) for d, l in self.pairs for k in range(n)]

    def settings(self, dataset: str, threads: int) -> CellSettings:
        s = self.study
        return CellSettings(task=self.datasets[dataset].task, metric=self.metrics[dataset],
                            trials=s.budget.trials, seconds=s.budget.seconds, seed=s.seed,
                            threads=threads, n_startup_trials=min(10, max(3, s.budget.trials // 3)),
                            controls=s.checks.controls if s.checks.enabled else 0)

    def direction(self, dataset: str) -> str:
        return "maximize" if metrics.higher_is_better(self.metrics[dataset]) else "minimize"


def _collect(problems: list[Problem], fn: Callable, *args):
    try:
        return fn(*args)
    except ConfigError as exc:
        problems.extend(exc.problems)
        return None


def prepare(study_ref: str, trials: int | None = None, seed: int | None = None) -> Plan:
    study, problems = read_study(study_ref, trials=trials, seed=seed)
    if study is None:
        raise ConfigError(problems)
    problems += check_names(study)
    specs = {}
    for i, name in enumerate(study.datasets):
        spec = _collect(problems, _load_spec, study, i, name)
        spec_problems = data_layer.check_spec(spec) if spec is not None else []
        problems.extend(spec_problems)
        if spec is not None and not spec_problems:
            specs[spec.name] = spec
    spaces = {l: s for l in study.learners if l in learners.ALL
              and (s := _collect(problems, load_space, l, space_file(study, l))) is not None}
    k = study.splits.outer_folds
    # Data problems are reported with the others: loading reads files but fits nothing.
    datasets = {n: d for n, s in specs.items()
                if (d := _collect(problems, data_layer.load_dataset, s, k)) is not None}
    raise_if(problems)
    chosen = {}
    for name, ds in datasets.items():
        problems.extend(_check_dataset(study, ds, k))
        chosen[name] = _metric(study, ds, problems)
    pairs, skipped = _pairs(study, datasets)
    if not pairs:
        problems.append(Problem(f"{study.path}: learners", "at least one learner must accept one "
                                "of the datasets", study.learners, "add a learner for the datasets' modality"))
    raise_if(problems)
    plans = {n: p for n, d in datasets.items()
             if (p := _collect(problems, _plan, study, d)) is not None}
    raise_if(problems)
    return Plan(study, datasets, spaces, chosen, plans, pairs, skipped)


def _load_spec(study: StudySpec, i: int, name: str):
    """A dataset entry's manifest; a YAML that is not there is named by the study key."""
    path = resolve_spec(dataset_ref(study, name))
    if not path.exists():
        raise ConfigError([Problem(
            f"{study.path}: datasets[{i}]", "must be a bundled dataset or a dataset YAML that "
            "exists", name, f"the file would be {path.resolve()}: check the path (relative to "
            "the study file), or use `python -m benchmark list` for the bundled names")])
    return data_layer.load_spec(path)


def _plan(study: StudySpec, ds: Dataset) -> SplitPlan:
    s = study.splits
    try:
        return make_plan(ds.name, ds.y, ds.groups, seed=study.seed, outer_folds=s.outer_folds,
                         repeats=s.repeats, inner=s.inner, inner_folds=s.inner_folds,
                         holdout_fraction=s.holdout_fraction, stratify=ds.task != "regression")
    except ValueError as exc:  # e.g. too few groups for the folds
        raise ConfigError([Problem(f"{study.path}: splits (dataset {ds.name})",
                                   f"the split plan must be possible: {exc}", fix="use fewer "
                                   "folds, a larger holdout_fraction, or a dataset with more groups")])


def _check_dataset(study: StudySpec, ds: Dataset, k: int) -> list[Problem]:
    if ds.groups is None:
        return []
    n_groups = len(set(ds.groups.tolist()))
    if n_groups < k:
        return [Problem(f"dataset {ds.name}: group", f"needs at least as many groups as outer folds "
                        f"({k}) so that no group straddles train and test", n_groups,
                        "use fewer outer folds (splits.outer_folds)")]
    return []


def _metric(study: StudySpec, ds: Dataset, problems: list[Problem]) -> str:
    import numpy as np

    if study.metric == "auto":
        counts = np.bincount(ds.y) if ds.task != "regression" else None
        return metrics.default_metric(ds.task, counts)
    if study.metric not in metrics.panel(ds.task):
        problems.append(Problem(f"{study.path}: metric", f"must suit the {ds.task} dataset "
                                f"{ds.name}", study.metric, f"use one of {sorted(metrics.panel(ds.task))}"))
    return study.metric


def _pairs(study: StudySpec, datasets: dict[str, Dataset]):
    pairs, skipped = [], []
    for name, ds in datasets.items():
        for learner in study.learners:
            module = learners.get(learner)
            if learners.accepts(module, ds.modality, ds.task):
                pairs.append((name, learner))
            else:
                skipped.append((name, learner, f"does not accept {ds.modality} {ds.task} data"))
    return pairs, skipped


# ---------------------------------------------------------------- execution

def check_folder(plan: Plan, run_dir: Path) -> dict | None:
    """The folder's previous manifest, if any; ConfigError if another study made it."""
    path = Path(run_dir) / "manifest.json"
    previous = json.loads(path.read_text()) if path.exists() else None
    config = plan.study.model_dump()
    if previous and previous.get("config_hash") != manifest.config_hash(config):
        changed = _changes(previous.get("config") or {}, config)
        raise ConfigError([Problem(str(path), "a run folder resumes only the study that made it",
                                   "; ".join(changed[:8]) or "a different study",
                                   "rerun with the same study, trials and seed, or pass a new "
                                   "--out for the new settings")])
    return previous


def _changes(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every setting that differs (nested keys dotted)."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changes(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} -> {b!r}")
    return out


def _manifest(plan: Plan, run_dir: Path, store_url: str) -> dict:
    config = plan.study.model_dump()
    previous = check_folder(plan, run_dir)
    return {
        "study": plan.study.name, "config": config, "config_hash": manifest.config_hash(config),
        "seed": plan.study.seed, "storage": store_url,
        "started": (previous or {}).get("started", manifest.now()), "status": "running",
        "versions": manifest.versions(), "git_commit": manifest.git_commit(),
        "hardware": manifest.hardware(),
        "datasets": {n: {**d.profile(), "metric": plan.metrics[n],
                         "split_sha256": plan.splits[n].digest} for n, d in plan.datasets.items()},
        "pairs": [list(p) for p in plan.pairs], "skipped": [list(s) for s in plan.skipped],
        "seeds": "derived as sha256(study seed, dataset, fold, learner, trial): see benchmark.seeding",
    }


def _job(plan: Plan, store: Store, cell: Cell, refs: dict, threads: int, attempt: int = 0) -> Job:
    history = store.history(cell, plan.direction(cell.dataset))
    args = (cell, refs[cell.dataset], plan.splits[cell.dataset].folds[cell.fold],
            plan.spaces[cell.learner], plan.settings(cell.dataset, threads), history)
    return Job(cell.key, args, deep=learners.get(cell.learner).FAMILY == "deep", attempt=attempt,
               at=len(history))


def execute(plan: Plan, run_dir: Path, address: str | None = None, storage: str | None = None,
            num_cpus: int | None = None, on_event: Callable[[dict], None] | None = None) -> dict:
    """Run (or resume) every unfinished cell; returns the final manifest."""
    run_dir = Path(run_dir)
    (run_dir / "splits").mkdir(parents=True, exist_ok=True)
    store_url = storage or default_url(run_dir)
    info = _manifest(plan, run_dir, store_url)
    for name, sp in plan.splits.items():
        sp.save(run_dir / "splits" / f"{name}.json")
    manifest.write(run_dir / "manifest.json", info)
    store = Store(store_url)
    done = store.done()
    todo = [c for c in plan.cells() if c.key not in done]
    res = plan.study.resources
    with _LazySession(plan, address, num_cpus) as ray_session:
        if todo:
            session, refs = ray_session.get()
            todo.sort(key=lambda c: (-2.0 if learners.get(c.learner).FAMILY == "deep" else -1.0,
                                     -plan.datasets[c.dataset].X.size))
            if on_event:
                budget, stored = plan.study.budget.trials, store.counts()
                on_event({"kind": "start",
                          "remaining": sum(budget - stored.get(c.key, 0) + 1 for c in todo)})
            info["ray"] = {"embedded": session.embedded, "cpus": session.total_cpus(),
                           "gpus": session.has_gpus()}
            # Built one by one as they are submitted (each reads its cell's stored trials), so the
            # first cells run while the store is still being read for the others.
            jobs = (_job(plan, store, c, refs, res.cpus_per_trial) for c in todo)

            def on_crash(job: Job, exc: Exception) -> Job | None:
                return _after_crash(plan, store, job, exc, refs)

            def direction(cell: Cell) -> str:
                return plan.direction(cell.dataset)

            # Each batch (what finished since the last one) is stored in one transaction before
            # the next is awaited, and before any crash is handled, so a retry resumes from it.
            for batch in session.stream(jobs, on_crash):
                store.record(batch, direction)
                if on_event:
                    for event in batch:
                        on_event(event)
        from . import results

        results.export(store, run_dir, plan.datasets)
        if on_event:
            on_event({"kind": "checks"})
        _run_checks(plan, run_dir, store, ray_session.run_refits)
    store.close()
    # Trials that arrived again for a number already stored (never kept): 0 unless a stored
    # trial was run a second time, which resuming must never do.
    info.update(status="complete", finished=manifest.now(), trials_repeated=store.repeated)
    manifest.write(run_dir / "manifest.json", info)
    return info


class _LazySession:
    """The run's Ray session, started the first time something needs it (a resumed run whose
    cells and checks are all done never starts Ray), with the datasets put once."""

    def __init__(self, plan: Plan, address: str | None, num_cpus: int | None):
        self.plan, self.address, self.num_cpus = plan, address, num_cpus
        self._stack = ExitStack()
        self._open: tuple[Session, dict] | None = None

    def __enter__(self) -> "_LazySession":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def get(self) -> tuple[Session, dict]:
        if self._open is None:
            res = self.plan.study.resources
            session = self._stack.enter_context(Session(self.address, self.num_cpus,
                                                        res.cpus_per_trial,
                                                        res.gpus_per_deep_trial))
            self._open = session, {n: session.put(d) for n, d in self.plan.datasets.items()}
        return self._open

    def run_refits(self, jobs: list) -> list[dict]:
        """The checks' refit jobs as Ray tasks; each dataset travels once, through the object
        store (never through a file: sensitive data). Deep and large jobs go first."""
        from dataclasses import replace

        from .checks import refit

        if not jobs:
            return []
        session, refs = self.get()
        order = sorted(range(len(jobs)),
                       key=lambda i: (jobs[i].role != "deep", -jobs[i].data.X.size))
        calls = [((replace(jobs[i], data=None), refs[jobs[i].dataset]), jobs[i].role == "deep")
                 for i in order]
        out = session.map(refit.run_on, calls, self.plan.study.resources.retries,
                          lambda k, exc: refit.lost(jobs[order[k]], exc))
        results = [None] * len(jobs)
        for k, i in enumerate(order):
            results[i] = out[k]
        return results


def _run_checks(plan: Plan, run_dir: Path, store: Store, run_jobs=None) -> None:
    """The checks' second phase (benchmark.checks): needs every cell's scores, writes checks.json."""
    from .checks import run_checks

    run_checks(plan, run_dir, store, run_jobs)


def _after_crash(plan: Plan, store: Store, job: Job, exc: Exception, refs: dict) -> Job | None:
    """A cell's task failed outside any trial: its worker or node died, or the code around the
    trials raised. Resubmit the cell from the store, so finished trials never run again and the
    trial in flight runs again with the same seed. A trial lost more than ``resources.retries``
    times is stored as failed with the cause (it counts toward the budget) and the cell goes on;
    an outer evaluation lost that often is stored as failed and the cell ends.
    """
    cell, settings = job.args[0], job.args[4]
    direction = plan.direction(cell.dataset)
    if store.outer(cell, direction) is not None:  # it died after its last event: nothing lost
        return None
    history = store.history(cell, direction)
    number = len(history)  # the trial in flight (or the outer evaluation)
    outer_stage = number >= settings.trials or out_of_time(
        settings, sum(h["seconds"] for h in history))
    lost = job.attempt + 1 if number == job.at else 1  # the count restarts once a trial got through
    if lost <= plan.study.resources.retries:
        return _job(plan, store, cell, refs, settings.threads, lost)
    cause = f"the task running it failed {lost} times: {type(exc).__name__}: {str(exc)[:500]}"
    if outer_stage:  # the outer evaluation itself kept dying
        store.record_outer({"cell": cell, "results": {
            c: {"trial": None, "config": {}, "fit_seconds": None, "scores": {}, "error": cause}
            for c in ("default", "tuned")}}, direction)
        return None
    store.record_trial({"cell": cell, "number": number, "state": "FAIL", "value": None,
                        "params": {}, "distributions": {}, "config": {}, "seconds": 0.0,
                        "error": cause, "attrs": {}}, direction)
    return _job(plan, store, cell, refs, settings.threads, 0)
