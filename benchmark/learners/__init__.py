"""Registry of learners: one small module each, plus ``search_spaces/<name>.yaml``.

The registry is derived from the modules in this package (every module whose name does not start
with ``_``), so adding a learner is adding its module and its YAML: there is no second list to keep
in step. ``CLASSICAL``, ``DEEP`` and ``ALL`` are computed on first use (each module is imported
then; modules import their heavy libraries only inside ``build``).

A learner module defines:

- ``NAME``: its registry name (equal to the module and YAML name);
- ``FAMILY``: ``"classical"`` or ``"deep"``;
- ``VIEWS``: which dataset view it consumes for each modality it accepts, e.g.
  ``{"tabular": "tabular", "sequence": "tabular", "image": "tabular"}`` for a classical learner
  (k-mer counts for sequences, flat pixels for images) or ``{"sequence": "onehot"}`` for a 1D CNN.
  For a learner that reads flat features this is only trial 0's view: on sequences and images
  the harness tunes a ``representation`` parameter over every flat view (``benchmark.spaces``),
  so it may also read the flattened one-hot sequence a CNN sees. The learner never sees the
  parameter;
- ``TASKS``: the tasks it supports (subset of binary, multiclass, regression);
- ``build(params, task, seed, threads) -> estimator``: a scikit-learn estimator (usually a
  Pipeline with its own imputation and scaling, fit on training rows only).

A learner that early-stops sets ``USES_VALIDATION = True`` (every deep learner, and the boosted
trees LightGBM and CatBoost): the harness then calls ``fit(X, y, eval_set=(X_val, y_val))`` with
the inner validation split it owns, reads ``best_epoch_`` (epochs, or boosting rounds) after
fitting, and refits on the whole outer training part with ``max_epochs=best_epoch`` and no
validation set. Learners never split, score or seed themselves.

Its search space may be empty (``params: {}``): trial 0, the library default, is then the only
configuration there is to try.
"""
from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType

FAMILIES = ("classical", "deep")
TASKS = ("binary", "multiclass", "regression")
MODALITIES = ("tabular", "sequence", "image")
# The array each view name stands for: dimensions per example (tabular features are flat).
VIEW_NDIM = {"tabular": 1, "onehot": 2, "image": 3}


def _names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


@lru_cache(maxsize=None)
def _registry() -> dict[str, tuple[str, ...]]:
    modules = {name: importlib.import_module(f"{__name__}.{name}") for name in _names()}
    problems = [f"{n}: {why}" for n, m in modules.items() for why in _contract_problems(n, m)]
    if problems:
        raise ImportError("learner modules break the registry contract: " + "; ".join(problems))
    by_family = {f: tuple(n for n, m in modules.items() if m.FAMILY == f) for f in FAMILIES}
    return {"CLASSICAL": by_family["classical"], "DEEP": by_family["deep"],
            "ALL": by_family["classical"] + by_family["deep"]}


def _contract_problems(name: str, module: ModuleType) -> list[str]:
    """What a module lacks to be registered, so a half-written learner fails loudly, once."""
    out = []
    missing = [a for a in ("NAME", "FAMILY", "VIEWS", "TASKS", "build") if not hasattr(module, a)]
    if missing:
        return [f"missing {', '.join(missing)}"]
    if module.NAME != name:
        out.append(f"NAME is {module.NAME!r}, not the module name")
    if module.FAMILY not in FAMILIES:
        out.append(f"FAMILY {module.FAMILY!r} is not one of {FAMILIES}")
    if not set(module.TASKS) <= set(TASKS):
        out.append(f"TASKS {sorted(module.TASKS)} go beyond {TASKS}")
    bad = {m: v for m, v in module.VIEWS.items() if m not in MODALITIES or v not in VIEW_NDIM}
    if bad:
        out.append(f"VIEWS {bad}: modalities are {MODALITIES}, views {sorted(VIEW_NDIM)}")
    return out


def __getattr__(attr: str):
    if attr in ("CLASSICAL", "DEEP", "ALL"):
        return list(_registry()[attr])  # a fresh list: callers may not edit the registry
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def get(name: str) -> ModuleType:
    if name not in _registry()["ALL"]:
        raise KeyError(name)
    return importlib.import_module(f"{__name__}.{name}")


def accepts(module: ModuleType, modality: str, task: str) -> bool:
    return modality in module.VIEWS and task in module.TASKS


def family(name: str) -> str:
    return get(name).FAMILY


def check_view(X, view: str, learner: str):
    """``X`` as an array, or a ValueError naming the shape ``view`` needs: a learner handed the
    wrong view (a one-hot sequence where it reads flat features) says so rather than failing
    somewhere inside its library."""
    import numpy as np

    X = np.asarray(X) if not hasattr(X, "ndim") else X
    want = VIEW_NDIM[view] + 1
    if X.ndim != want:
        shapes = {2: "(n_samples, n_features)", 3: "(n_samples, length, alphabet)",
                  4: "(n_samples, channels, height, width)"}
        raise ValueError(f"{learner} reads the {view!r} view, an array of shape {shapes[want]}, "
                         f"but got shape {tuple(X.shape)}")
    return X
