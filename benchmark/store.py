"""The run's store: one Optuna study per cell in one Optuna storage (SQLite in the run folder).

Only finished trials are written, each in one transaction as it arrives, so a killed driver leaves
a consistent store and a rerun resumes from it. The outer evaluation of a cell is kept as a study
user attribute in the same storage. Any Optuna storage URL works; optuna-dashboard reads it.
"""
from __future__ import annotations

from pathlib import Path

import optuna

from .search import Cell

TrialState = optuna.trial.TrialState


def default_url(run_dir: Path) -> str:
    return f"sqlite:///{Path(run_dir).resolve() / 'optuna.db'}"


class Store:
    def __init__(self, url: str):
        self.url = url
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        self.storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        self._studies: dict[str, optuna.Study] = {}

    def study(self, cell: Cell, direction: str) -> optuna.Study:
        if cell.key not in self._studies:
            study = optuna.create_study(storage=self.storage, study_name=cell.key,
                                        direction=direction, load_if_exists=True)
            if "cell" not in study.user_attrs:
                study.set_user_attr("cell", {"dataset": cell.dataset, "outer_fold": cell.fold,
                                             "learner": cell.learner})
            self._studies[cell.key] = study
        return self._studies[cell.key]

    def history(self, cell: Cell, direction: str) -> list[dict]:
        """Finished trials of the cell, in trial order, as plain dicts for the worker."""
        trials = self.study(cell, direction).get_trials(
            deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
        return [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
                 "config": t.user_attrs.get("config", {}),
                 "attrs": {k: t.user_attrs[k] for k in ("best_epoch",) if k in t.user_attrs}}
                for t in sorted(trials, key=lambda t: t.number)]

    def outer(self, cell: Cell, direction: str) -> dict | None:
        return self.study(cell, direction).user_attrs.get("outer")

    def record_trial(self, event: dict, direction: str) -> None:
        cell = event["cell"]
        attrs = {"config": event["config"], "seconds": event["seconds"], "error": event["error"],
                 "node_id": event.get("node_id"), "host": event.get("host"), **event["attrs"]}
        self.study(cell, direction).add_trial(optuna.trial.create_trial(
            state=TrialState[event["state"]], value=event["value"], params=event["params"],
            distributions=event["distributions"], user_attrs=attrs))

    def record_outer(self, event: dict, direction: str) -> None:
        self.study(event["cell"], direction).set_user_attr(
            "outer", {**event["results"], "node_id": event.get("node_id")})

    def all_cells(self) -> list[optuna.Study]:
        """Every cell study in the storage, each loaded once."""
        names = optuna.get_all_study_names(self.storage)
        return [optuna.load_study(study_name=n, storage=self.storage) for n in sorted(names)]
