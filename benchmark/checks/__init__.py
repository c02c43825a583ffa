"""Biology-grade checks, after "Ten Quick Tips for Deep Learning in Biology" (Lee et al. 2020).

A benchmark can be fair and still fool its reader: the model learned the batch, the test set
leaked, the score holds on shuffled labels, a subgroup fails, a model gives patients away. Every
run checks for these:

- ``controls``  shuffled-label refits of each cell's tuned configuration (Tip 7), inside the cells,
                judged against each test fold's null with Holm's correction over learners;
- ``leakage``   duplicates across train/test, shared groups, label proxies (features and
                metadata columns), informative missingness (Tips 4, 7), from the data and split
                plan alone;
- ``batch``     features that predict the batch, batch-label confounding, grouped vs random
                split gap with its interval (Tip 4);
- ``size``      examples per class, learning curve (Tip 1), why the primary metric (Tip 7);
- ``importance`` permutation importance of the best classical and deep models (Tip 8);
- ``failures``  subgroup and per-class scores, McNemar between the two best models (Tip 9);
- ``sensitive`` what a sensitive dataset may leave behind, and a scan that proves it (Tip 10);
- ``simulate``  generated datasets with a known truth: the controls' false-alarm rate and power.

Every finding (``findings.finding``) has a stable ``check`` key, a level and a title chosen from
its own numbers; the report anchors it at ``check-<dataset>-<check>``.

The rest of the package reaches the checks through this module alone: ``in_cell`` runs inside
each cell's worker (controls, predictions); ``run_checks`` runs after the cells and writes
``checks.json`` plus ``importance.parquet``, ``subgroups.parquet`` and ``learning_curve.parquet``;
the results exporter writes ``controls.parquet`` and (never for sensitive data)
``predictions.parquet``.
The package is imported inside Ray workers (``controls``), so this file imports nothing heavy.
"""
from __future__ import annotations


def in_cell(module, tuned, pred, data, fold, X, settings, cell_seed: int) -> tuple:
    """What the checks need from a cell's worker, beside its tuned outer result (``tuned``, a
    ``records.OuterResult``; ``pred``: its test predictions, None when it failed): the
    shuffled-label controls of the tuned configuration (Tip 7), the chance level of each metric
    and the per-example test predictions (Tip 9), never for a sensitive dataset (Tip 10), whose
    run folder must hold no per-example output. Returns ``(controls, chance, predictions)``:
    a list of ``records.Control``, metric -> chance level, ``records.Predictions`` or None.

    ``settings.controls`` is a number of refits or "auto": sized here from the test fold, which
    only the worker's fold knows (``controls.refits``)."""
    import numpy as np

    from ..fitting import fit, predict
    from ..records import Control, Predictions
    from ..seeding import derive_seed
    from . import controls

    if tuned.error:
        return [], {}, None
    seed = derive_seed(cell_seed, "outer")
    n = controls.refits(settings.controls, data.task, data.y[fold.test])
    refits = controls.shuffled_fits(
        lambda c, d, rows, s, t: fit(module, c, d, rows, s, t),
        lambda model, Xt: predict(model, Xt, data.task, data.n_classes),
        data, fold, X, tuned.config, n, cell_seed, seed, settings.threads)
    chance = controls.chance_all(data.task, data.y[fold.test], data.n_classes)
    predictions = None
    if not data.sensitive and pred is not None:
        values = np.round(np.asarray(pred, dtype=float), 6)
        predictions = Predictions(fold.test.tolist(), values.reshape(len(values), -1).tolist())
    return [Control(**c) for c in refits], chance, predictions


def run_checks(plan, run_dir, store, run_jobs=None) -> dict:
    """See :func:`benchmark.checks.phase.run_checks`. A check that breaks must not lose the run:
    its error is written to ``checks.json`` (and shown in the report) instead of raised."""
    import logging
    import traceback

    from .. import run_folder as folder
    from .phase import run_checks as run

    try:
        return run(plan, run_dir, store, run_jobs)
    except Exception as exc:  # noqa: BLE001 - reported, never silently dropped
        logging.getLogger(__name__).warning("checks failed: %s", exc)
        out = {"enabled": False, "error": f"{type(exc).__name__}: {exc}",
               "traceback": traceback.format_exc(limit=5)}
        folder.write_json(run_dir, folder.CHECKS, out, indent=1)
        return out
