"""Where the project's vocabularies live: next to the package, in the repository."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCH_SPACES = ROOT / "search_spaces"
DATASETS = ROOT / "datasets"
STUDIES = Path(__file__).resolve().parent / "studies"
REPORTS = ROOT / "reports"
