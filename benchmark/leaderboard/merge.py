"""Which run speaks for which dataset: conflicts refused, duplicates counted once.

Two runs may share a dataset only if they agree on what it is (its content hash), how it was
split (the split plan's hash) and what it was scored on (the primary metric); otherwise their
scores are not about the same question and merging them would rank apples against pears.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..errors import ConfigError, Problem
from ..report.analysis import Analysis, analyse
from ..report.run import Run, load_run

# What must agree, and the manifest keys that record it (the first present in both runs).
AGREE = {"content": ("content_sha256", "sha256"), "split plan": ("split_sha256",),
         "primary metric": ("metric",)}


@dataclass(eq=False)
class Source:
    """One run folder given on the command line, in the order given."""

    run: Run
    order: int

    @property
    def label(self) -> str:
        return str(self.run.dir)

    @property
    def when(self) -> str:
        """When the run finished (else started): later runs speak for shared datasets."""
        m = self.run.manifest
        return str(m.get("finished") or m.get("started") or "")

    def info(self, dataset: str) -> dict:
        return (self.run.manifest.get("datasets") or {}).get(dataset) or {}

    @cached_property
    def analysis(self) -> Analysis:
        """The run report's own analysis: verdicts and summaries are read, never recomputed."""
        return analyse(self.run)


@dataclass(eq=False)
class Merged:
    sources: list[Source]
    chosen: dict[str, Source]  # dataset -> the run that speaks for it, in first-seen order
    superseded: list[tuple[str, Source, Source, str]] = field(default_factory=list)  # (dataset, dropped, kept, why)


def load(run_dirs: list[Path]) -> list[Source]:
    """Every run folder, or one ConfigError naming each that cannot be read."""
    problems, sources = [], []
    for i, d in enumerate(run_dirs):
        try:
            sources.append(Source(load_run(Path(d)), i))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return sources


def _value(info: dict, other: dict, keys: tuple[str, ...]) -> tuple[str, object, object]:
    """(key, this run's value, the other's) for the first key both runs recorded."""
    for key in keys:
        if info.get(key) is not None and other.get(key) is not None:
            return key, info[key], other[key]
    return keys[0], info.get(keys[0]), other.get(keys[0])


def conflicts(sources: list[Source]) -> list[Problem]:
    """Every dataset whose runs disagree on content, split plan or primary metric."""
    problems = []
    for i, a in enumerate(sources):
        for b in sources[i + 1:]:
            for d in [d for d in a.run.datasets if d in b.run.datasets]:
                for what, keys in AGREE.items():
                    key, va, vb = _value(a.info(d), b.info(d), keys)
                    if va != vb:
                        problems.append(Problem(
                            f"{b.run.dir / 'manifest.json'}: datasets.{d}.{key}",
                            f"runs merged into one leaderboard must agree on each shared dataset's "
                            f"{what}, and dataset {d} differs from {a.run.dir / 'manifest.json'}",
                            f"{va} in {a.label}, {vb} in {b.label}",
                            "merge runs made from the same data, split plan and metric (same "
                            "dataset YAML and file, same seed and splits:), or rename the dataset "
                            "in one study so that the two count as different datasets, or leave "
                            "one of the runs out"))
    return problems


def _uses(sources: list[Source], use: dict[str, str]) -> tuple[dict[str, Source], list[Problem]]:
    """``--use DATASET=RUN_DIR`` resolved to sources; a problem for each choice that names no
    run given or a run without that dataset."""
    by_dir = {s.run.dir.resolve(): s for s in sources}
    out, problems = {}, []
    for dataset, run_dir in use.items():
        s = by_dir.get(Path(run_dir).resolve())
        if s is None:
            problems.append(Problem(f"--use {dataset}={run_dir}", "must name one of the run "
                                    "folders given", run_dir, f"use one of {[x.label for x in sources]}"))
        elif dataset not in s.run.datasets:
            problems.append(Problem(f"--use {dataset}={run_dir}", "must name a dataset of that run",
                                    dataset, f"use one of {s.run.datasets}"))
        else:
            out[dataset] = s
    return out, problems


def merge(sources: list[Source], use: dict[str, str] | None = None) -> Merged:
    """One run per dataset: the one ``use`` names, else the later (by finish time, then by order
    given). ConfigError (exit 2) lists every conflict and every bad choice at once."""
    chosen_by_user, problems = _uses(sources, use or {})
    problems = conflicts(sources) + problems
    if problems:
        raise ConfigError(problems)
    latest = sorted(sources, key=lambda s: (s.when, s.order))
    chosen, superseded = {}, []
    for d in [d for s in sources for d in s.run.datasets]:
        if d in chosen:
            continue
        holders = [s for s in latest if d in s.run.datasets]
        keep = chosen_by_user.get(d, holders[-1])
        why = "chosen with --use" if d in chosen_by_user else "the later run counts"
        chosen[d] = keep
        superseded += [(d, s, keep, why) for s in holders if s is not keep]
    return Merged(sources, chosen, superseded)
