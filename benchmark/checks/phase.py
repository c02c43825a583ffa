"""The checks' second phase: after every cell has finished, check each dataset and write the
results into the run folder, so ``python -m benchmark report DIR`` never refits.

Data checks (leakage, batch, size, metric) need only the data and the split plan and run in the
driver. Refit checks (importance, failures, random-split gap, learning curve) need the best
learners and run as one job per (dataset, model, outer fold): as Ray tasks, sized like trials,
when the runner hands over its session (``run_jobs``), else one after another here. A run that
finished before keeps its checks unless its scores or its check
settings changed.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .. import run_folder as folder
from . import batch, controls, failures, importance, leakage, refit, sensitive, size
from .findings import finding

CHECKS_FILE = folder.CHECKS
TABLES = {"importance": folder.IMPORTANCE, "subgroups": folder.SUBGROUPS,
          "curve": folder.LEARNING_CURVE}
VERSION = 3  # 2: controls judged against their null with Holm; split-gap intervals; metadata
# 3: a copy across the split under another label is a label warning, not a leak


def run_checks(plan, run_dir: Path, store, run_jobs: Callable | None = None) -> dict:
    """Run every check of the study's ``checks:`` settings; write and return ``checks.json``.

    ``run_jobs(jobs)`` returns ``refit.run`` of each job, in order (the runner runs them on
    Ray); by default they run one after another in this process."""
    run_dir, cfg = Path(run_dir), plan.study.checks
    scores = folder.read_table(run_dir, folder.SCORES)
    key = _key(cfg.model_dump(), scores)
    before = folder.read_json(run_dir, folder.CHECKS)
    if before is not None and before.get("key") == key:
        return before
    t0 = time.perf_counter()
    out = {"version": VERSION, "key": key, "enabled": cfg.enabled, "settings": cfg.model_dump(),
           "datasets": {}}
    if cfg.enabled:
        out["datasets"] = {n: data_checks(d, plan.splits[n], plan.metrics[n], plan.study.seed)
                           for n, d in plan.datasets.items()}
        out["seconds_data"] = time.perf_counter() - t0
        _add_controls(out, plan, run_dir, scores, cfg.control_tolerance)
        tables = _refit_checks(out, plan, store, scores, run_jobs or _run_here)
        _write_tables(run_dir, tables)
        out["sensitive"] = sensitive.notice(
            [n for n, d in plan.datasets.items() if d.sensitive], plan.study.learners)
    out["seconds"] = time.perf_counter() - t0
    folder.write_json(run_dir, folder.CHECKS, out, indent=1, default=_json)
    return out


def _key(settings: dict, scores: pd.DataFrame) -> str:
    """Checks are redone when the check settings or the scores they build on change."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode() + str(VERSION).encode())
    h.update(pd.util.hash_pandas_object(scores.astype(str), index=False).values.tobytes())
    return h.hexdigest()[:16]


def _json(value):
    return value.tolist() if hasattr(value, "tolist") else str(value)


def data_checks(data, splits, metric: str, seed: int) -> dict:
    """Everything that needs only the data and its split plan."""
    found = leakage.audit(data, splits)
    found += [batch.confounding(data, seed), batch.predictability(data, seed),
              size.enough_data(data), size.metric_choice(data, metric)]
    return {"findings": found, "sensitive": data.sensitive}


def _add_controls(out: dict, plan, run_dir: Path, scores, tolerance: float) -> None:
    table = folder.read_table(run_dir, folder.CONTROLS, controls.frame([]))
    info = {n: {"task": d.task, "metric": plan.metrics[n]} for n, d in plan.datasets.items()}
    nulls = {key: value for n in plan.datasets for key, value in _nulls(plan, n).items()}
    rows = controls.summarise(table, scores, info, tolerance, nulls)
    for name, entry in out["datasets"].items():
        mine = [r for r in rows if r["dataset"] == name]
        entry["controls"] = mine
        entry["findings"].insert(0, control_finding(mine, tolerance))


def _nulls(plan, name: str) -> dict:
    """(dataset, outer fold) -> the null mean and variance of the flag metric on that test fold."""
    data = plan.datasets[name]
    metric = controls.flag_metric(data.task, plan.metrics[name])
    return {(name, k): controls.fold_null(data.task, metric, data.y[fold.test], data.n_classes,
                                          seed=k)
            for k, fold in enumerate(plan.splits[name].folds)}


def control_finding(rows: list[dict], tolerance: float) -> dict:
    """The dataset's controls in one finding; its title names the worst learner's numbers."""
    if not rows:
        return finding("controls", "info", "No shuffled-label controls were run",
                       "Set `checks: {controls: auto}` (or a number of refits) in the study.")
    worst = min(rows, key=lambda r: (r["p_holm"], -r["excess"]))
    numbers = dict(flagged=[r["learner"] for r in rows if r["flag"]], alpha=controls.ALPHA,
                   tolerance=tolerance, correction="holm")
    how = (f"Each learner's mean control score is compared with the null mean of its test folds "
           f"(one-sided, Holm-adjusted over {len(rows)} learners, α = {controls.ALPHA}; flagged "
           f"from an excess of {tolerance:g}).")
    bad = [r for r in rows if r["flag"]]
    if bad:
        names = "; ".join(f"{r['learner']}: {r['metric']} {r['mean']:.3f} vs {r['null']:.3f} "
                          f"(excess {r['excess']:+.3f} ± {r['se']:.3f}, Holm p = {r['p_holm']:.2g}, "
                          f"{r['n']} refits)" for r in bad)
        who = (f"{worst['learner']} beats chance on shuffled labels ({_control_numbers(worst)})"
               if len(bad) == 1 else f"{len(bad)} learners beat chance on shuffled labels "
               f"(worst: {worst['learner']}, {_control_numbers(worst)})")
        return finding("controls", "problem", who,
                       f"{names}. Trained on permuted labels they should score at chance: "
                       "information reaches them from somewhere other than the training labels "
                       "(test rows or labels reaching the fit, a scoring bug). " + how, **numbers)
    words = ("No learner beats chance on shuffled labels" if worst["p_holm"] >= controls.ALPHA
             else f"Shuffled-label controls are within {tolerance:g} of chance")
    return finding("controls", "ok", f"{words} (closest: {worst['learner']}, "
                   f"{_control_numbers(worst)})",
                   f"{len(rows)} learners, {sum(r['n'] for r in rows)} refits; the closest to a "
                   f"flag is {worst['learner']} ({worst['metric']} {worst['mean']:.3f} vs "
                   f"{worst['null']:.3f}). " + how, **numbers)


def _control_numbers(r: dict) -> str:
    p = r["p_holm"]
    return f"excess {r['excess']:+.3f}, Holm {batch.p_text(p)}"


def _jobs(plan, name: str, best: dict, configs: dict) -> list[refit.FoldJob]:
    data, cfg = plan.datasets[name], plan.study.checks.model_dump()
    jobs = []
    for role, learner in best.items():
        for k, fold in enumerate(plan.splits[name].folds):
            config = configs.get((name, k, learner))
            if config is not None:
                jobs.append(refit.FoldJob(name, role, learner, k, fold, data, config,
                                          plan.metrics[name], plan.study.seed, cfg,
                                          data.groups is not None,
                                          plan.study.resources.cpus_per_trial))
    return jobs


def _run_here(jobs: list[refit.FoldJob]) -> list[dict]:
    with refit.one_thread():
        return [refit.run(job) for job in jobs]


def _refit_checks(out: dict, plan, store, scores, run_jobs: Callable) -> dict:
    """Run the refit jobs of every dataset, then fold their results into ``out``."""
    configs, jobs, best = refit.tuned_configs(store), [], {}
    for name in plan.datasets:
        best[name] = refit.best_learners(scores, name, plan.metrics[name])
        out["datasets"][name]["best"] = best[name]
        jobs += _jobs(plan, name, best[name], configs)
    t0 = time.perf_counter()
    results = run_jobs(jobs)
    out["seconds_refits"] = time.perf_counter() - t0  # wall time; jobs' own time below
    out["seconds_refit_jobs"] = float(sum(r["seconds"] for r in results))
    tables = {k: [] for k in TABLES}
    for name in plan.datasets:
        mine = [r for r in results if r["dataset"] == name]
        entry = out["datasets"][name]
        entry["refit_errors"] = [f"{r['learner']} fold {r['fold']}: {r['error']}"
                                 for r in mine if r["error"]]
        _combine(entry, plan, name, mine, tables)
    return tables


def _combine(entry: dict, plan, name: str, results: list[dict], tables: dict) -> None:
    """Pool fold results per model: importance, subgroup scores, McNemar, gap, curve."""
    data, metric = plan.datasets[name], plan.metrics[name]
    imp = importance.frame([row for r in results for row in r["importance"]])
    tables["importance"].append(imp)
    entry["importance"] = {"top": {role: importance.top_features(imp, role)
                                   for role in sorted(set(imp["role"]))},
                           "agreement": importance.agreement(imp),
                           "features": plan.study.checks.importance_features}
    pooled = _pool(results)
    entry["failures"] = _failures(data, metric, pooled, entry.get("best", {}), name, tables)
    gaps = [dict(learner=r["learner"], role=r["role"], **r["random"]) for r in results if r["random"]]
    entry["split_gap"] = batch.gap_rows(gaps)
    entry["findings"].append(batch.gap_finding(entry["split_gap"], metric)
                             if data.groups is not None else
                             finding("split_gap", "info", "Not split by group", "No random-split "
                                     "comparison: the splits are already random."))
    curve = size.curve_frame([row for r in results for row in r["curve"]])
    tables["curve"].append(curve)
    entry["learning_curve"] = size.curve_summary(curve)


def _pool(results: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """role -> (rows, predictions) over the folds that refit, in row order; roles in the order
    they first appear (a set's order changes run to run, and with it the tables' row order)."""
    out = {}
    for role in dict.fromkeys(r["role"] for r in results):
        mine = [r for r in results if r["role"] == role and r["pred"] is not None]
        if mine and not any(r["error"] for r in results if r["role"] == role):
            rows = np.concatenate([r["rows"] for r in mine])
            pred = np.concatenate([r["pred"] for r in mine])
            order = np.argsort(rows)
            out[role] = (rows[order], pred[order])
    return out


def _failures(data, metric: str, pooled: dict, best: dict, name: str, tables: dict) -> dict:
    """Subgroup and per-class scores of each best model; McNemar between the two."""
    rows, overall, ok = [], {}, {}
    for role, (idx, pred) in pooled.items():
        y = data.y[idx]
        columns = {k: np.asarray(v)[idx] for k, v in data.metadata.items()}
        if data.task != "regression":
            columns["class"] = np.asarray(data.classes)[y]
            ok[role] = failures.correct(data.task, y, pred)
            overall[role] = float(ok[role].mean())
        rows += [{"dataset": name, "role": role, "learner": best.get(role), **r}
                 for r in failures.subgroup_rows(data.task, metric, y, pred, columns)]
    frame = failures.frame(rows)
    tables["subgroups"].append(frame)
    out = {"overall_accuracy": overall, "worst": failures.worst_subgroups(frame, overall),
           "mcnemar": None}
    if len(ok) == 2 and np.array_equal(pooled["classical"][0], pooled["deep"][0]):
        out["mcnemar"] = failures.mcnemar_test(ok["classical"], ok["deep"])
    return out


def _write_tables(run_dir: Path, tables: dict) -> None:
    for key, file in TABLES.items():
        frames = [f for f in tables[key] if len(f)]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        folder.write_table(run_dir, file, table, keep_empty=False)
