"""The data layer: dataset YAML files in, validated ``Dataset`` objects with views out.

- ``load_spec(path_or_name)``: parse a dataset YAML (``spec_file``); a bare name means
  ``datasets/<name>.yaml``.
- ``check_spec(spec)``: static problems of a dataset YAML (no data read).
- ``load_dataset(spec, n_folds=None)``: read, validate (raising ConfigError with every problem)
  and build the views.
- ``validate_dataset(data, spec=None, n_folds=None)``: problems of a Dataset or a raw frame.

Light on purpose: numpy, pandas and scikit-learn only, never torch or ray.
"""
from __future__ import annotations

from .build import load_dataset
from .dataset import Dataset
from .spec_file import check_spec, load_spec
from .validate import validate_dataset

__all__ = ["Dataset", "check_spec", "load_dataset", "load_spec", "validate_dataset"]
