"""The records that pass between the layers: a cell, and the events a cell's search yields.

Neutral ground: ``search`` makes these records, ``execution`` carries them, ``store`` and
``results`` keep and read them, and none of those modules imports another for them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cell:
    """One (dataset, outer fold, learner): an Optuna study of its own."""

    dataset: str
    fold: int
    learner: str

    @property
    def key(self) -> str:
        return f"{self.dataset}/fold{self.fold}/{self.learner}"
