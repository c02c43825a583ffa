"""YAML vocabularies (datasets, search spaces, studies) parsed into typed specs.

Each loader returns the spec or raises ``ConfigError`` listing every problem in the file at once,
each naming the file, the key, the rule, the value and the fix.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError, Problem, did_you_mean


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_yaml(path: Path) -> Any:
    """The YAML document at ``path``; ConfigError (one line) when it is absent or unreadable."""
    try:
        return yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "must be an existing file", str(Path(path).resolve()),
                                   "check the path (a relative path in a YAML file starts at "
                                   "that file's folder)")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), f"must be a readable UTF-8 text file: {exc}",
                                   fix="check that the path names a YAML file")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(str(path), f"must be valid YAML: {' '.join(str(exc).split())}",
                                   fix="mend the place shown (indentation, a missing colon, an "
                                   "unclosed quote or bracket)")]) from None


# How to mend the commonest schema errors (pydantic's error types and their context).
_FIXES = {"extra_forbidden": "remove or rename the key", "missing": "add the key",
          "greater_than_equal": "use a value of at least {ge}", "greater_than": "use a value above {gt}",
          "less_than_equal": "use a value of at most {le}", "less_than": "use a value below {lt}",
          "literal_error": "use one of {expected}", "int_parsing": "use a whole number",
          "int_from_float": "use a whole number", "float_parsing": "use a number",
          "bool_parsing": "use true or false", "list_type": "use a list, e.g. [a, b]",
          "dict_type": "use a mapping of keys to values", "string_type": "use text"}


def parse(model: type[BaseModel], data: Any, where: str) -> Any:
    """Validate ``data`` against ``model``; pydantic's errors become our Problems."""
    result, problems = parse_partial(model, data, where)
    if problems:
        raise ConfigError(problems)
    return result


def parse_partial(model: type[BaseModel], data: Any, where: str) -> tuple[Any | None, list[Problem]]:
    """The model and the problems of ``data``. Every top-level key that broke the schema is left
    at its default in the model, so the caller can go on checking the rest and report everything
    at once; the model is None when a required key is among them."""
    if not isinstance(data, dict):
        return None, [Problem(where, "must be a mapping of keys to values", type(data).__name__)]
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        errors = exc.errors()
    problems = [_problem(err, where, model) for err in errors]
    bad = {err["loc"][0] for err in errors if err["loc"]}
    try:
        return model.model_validate({k: v for k, v in data.items() if k not in bad}), problems
    except ValidationError:
        return None, problems


def _quote_fix(value: object) -> str:
    """YAML reads a bare 1 as a number and a bare yes as a boolean; a label or column name
    written that way must be quoted to be read as text."""
    if isinstance(value, bool):
        return 'write it in quotes, e.g. "yes" (YAML reads a bare yes, no, true or false as a boolean)'
    return f'write it in quotes: "{value}" (YAML reads a bare {value} as a number)'


def _keys_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the model nested at ``loc`` (a pydantic error's path, less its last part)
    accepts; empty where the path leaves the models (a mapping's keys, a plain value)."""
    for part in loc:
        if isinstance(part, int):  # an index into a list of models
            continue
        field = model.model_fields.get(str(part))
        nested = [t for t in _types(field.annotation) if issubclass(t, BaseModel)] if field else []
        if not nested:
            return []
        model = nested[0]
    return [f.alias or name for name, f in model.model_fields.items()]


def _types(annotation) -> list[type]:
    """The classes an annotation names, through Optional, unions, lists and dicts."""
    args = getattr(annotation, "__args__", None)
    if args:  # list[X], dict[K, V], X | None, Literal[...] (whose arguments are values)
        return [t for arg in args for t in _types(arg)]
    return [annotation] if isinstance(annotation, type) else []


def _problem(err: dict, where: str, model: type[BaseModel]) -> Problem:
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    value = err.get("input") if err["type"] != "missing" else None
    ctx = err.get("ctx") or {}
    fix = ctx.get("fix") or _FIXES.get(err["type"], "").format(**ctx)
    if err["type"] == "extra_forbidden" and err["loc"]:
        fix += did_you_mean(err["loc"][-1], _keys_at(model, err["loc"][:-1]))
    if err["type"] == "string_type" and isinstance(value, (int, float, bool)):
        fix = _quote_fix(value)
    rule = {"extra_forbidden": "is not a key this file knows", "missing": "is required"}
    return Problem(f"{where}: {key}", rule.get(err["type"], err["msg"]), value, fix)


# ---------------------------------------------------------------- datasets

class Source(Spec):
    """Where the examples come from.

    kind=sklearn: ``loader`` is breast_cancer or digits.  kind=generated: ``generator`` (expression,
    dna_motifs) with ``params``.  kind=file: ``path`` (relative to the YAML's folder) and ``format``
    (csv, tsv, parquet, npz; inferred from the suffix, .gz allowed).  kind=openml: ``id`` and an
    optional ``cache_dir`` (default ``~/.cache/benchmark/openml``).
    """

    kind: Literal["sklearn", "generated", "file", "openml"]
    loader: str | None = None
    generator: str | None = None
    params: dict[str, Any] = {}
    path: str | None = None
    format: Literal["csv", "tsv", "parquet", "npz"] | None = None
    id: int | None = None
    cache_dir: str | None = None


class SequenceSpec(Spec):
    column: str
    alphabet: Literal["dna", "protein"] = "dna"
    k: int = 3  # k-mer length of the classical view
    max_length: int | None = None  # pad/truncate to this length (default: longest sequence)


class Provenance(Spec):
    source: str = ""
    version: str = ""
    retrieved: str = ""  # ISO date
    sha256: str | None = None  # checked on load when given
    citation: str = ""
    license: str = ""


class DatasetSpec(Spec):
    name: str
    description: str = ""
    task: Literal["binary", "multiclass", "regression"]
    modality: Literal["tabular", "sequence", "image"] = "tabular"
    source: Source
    target: str | None = None
    drop: list[str] = []
    group: str | None = None  # split key; may also be listed under metadata (scored per group)
    categorical: list[str] = []
    metadata: list[str] = []  # per-row columns kept for subgroup analysis, not used as features
    # binary: the label value that counts as positive (AUROC, AUPRC, ...); default: the class
    # that sorts last (1 of 0/1, True of False, "yes" of "no"; "healthy" of "cancer"!). Written
    # as the class's name: quoted for numbers ("1"; a whole float label 1.0 is named "1").
    positive: str | None = None
    sequence: SequenceSpec | None = None
    provenance: Provenance = Provenance()
    sensitive: bool = False
    path: str = ""  # the YAML file this spec was read from (set by the loader)
