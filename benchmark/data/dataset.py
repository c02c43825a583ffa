"""The in-memory dataset every learner sees: one target, one split key, several views."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """A loaded, validated dataset.

    ``views`` maps a view name to an array with one row per example, in the same order as ``y``:
    - ``"tabular"``: float64 (n, d), NaN for missing values (always present; for sequences the
      k-mer counts, for images the flattened pixels);
    - ``"onehot"``: float32 (n, L, A) one-hot sequences, zero rows as padding (sequence datasets);
    - ``"image"``: float32 (n, C, H, W) pixels scaled to [0, 1] (image datasets).
    Every view shares the same split plan: the harness splits row indices, never views.
    """

    name: str
    task: str  # "binary" | "multiclass" | "regression"
    modality: str  # "tabular" | "sequence" | "image"
    y: np.ndarray  # int64 codes 0..K-1 for classification, float64 for regression
    views: dict[str, np.ndarray]
    feature_names: list[str]
    classes: list[str] | None = None
    groups: np.ndarray | None = None  # one group label per row, or None
    categorical: list[int] = field(default_factory=list)  # indices into the tabular view
    sha256: str | None = None  # checksum of the source file, or of the generated arrays
    provenance: dict = field(default_factory=dict)
    sensitive: bool = False
    metadata: dict[str, np.ndarray] = field(default_factory=dict)  # extra per-row columns
    # What loading changed and what looks odd (benchmark.data.notes): shown, never silent.
    notes: list[dict] = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return int(len(self.y))

    @property
    def n_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0

    @property
    def X(self) -> np.ndarray:
        return self.views["tabular"]

    def profile(self) -> dict:
        """Facts for the report's dataset profile (Tip 4: know your data)."""
        X = self.views["tabular"]
        info = {
            "name": self.name,
            "task": self.task,
            "modality": self.modality,
            "n_samples": self.n_samples,
            "n_features": int(X.shape[1]),
            "missing_fraction": float(np.isnan(X).mean()) if X.size else 0.0,
            "n_groups": int(len(np.unique(self.groups))) if self.groups is not None else 0,
            "views": {k: list(v.shape[1:]) for k, v in self.views.items()},
            "sensitive": self.sensitive,
            "sha256": self.sha256,
            "provenance": self.provenance,
            "notes": self.notes,
        }
        if self.classes is not None:
            counts = np.bincount(self.y, minlength=len(self.classes))
            info["class_counts"] = {c: int(n) for c, n in zip(self.classes, counts)}
        return info
