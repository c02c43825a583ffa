"""Dataset profiles and the reproducibility manifest as rows of (label, text).

Only what the run recorded is shown; a missing entry reads "not recorded" rather than vanishing,
so a reader can tell an absent fact from an empty one.
"""
from __future__ import annotations

from . import labels

MISSING = "not recorded"


def _text(value) -> str:
    if value is None or value == "" or value == {}:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(map(_text, value))
    return str(value)


def class_balance(counts: dict | None) -> str:
    """Counts per class and the minority share, the one number that decides metric choice."""
    if not counts:
        return "n/a (regression)"
    total = sum(counts.values())
    parts = ", ".join(f"{k}: {v}" for k, v in counts.items())
    return f"{parts} (smallest class {min(counts.values()) / total:.0%})" if total else parts


def profile(name: str, info: dict) -> list[tuple[str, str]]:
    """One dataset's facts: size, balance, gaps, groups, provenance and checksums."""
    prov = info.get("provenance") or {}
    views = info.get("views") or {}
    rows = [
        ("task", f"{_text(info.get('task'))} ({_text(info.get('modality'))})"),
        ("samples × features", f"{_text(info.get('n_samples'))} × {_text(info.get('n_features'))}"),
        ("class balance", class_balance(info.get("class_counts"))),
        ("missing values", MISSING if info.get("missing_fraction") is None
         else f"{info['missing_fraction']:.1%}"),
        ("groups", _text(info.get("n_groups")) if info.get("n_groups") else "none (rows independent)"),
        ("primary metric", labels.metric(info["metric"]) if info.get("metric") else MISSING),
        ("views", ", ".join(f"{k} {'×'.join(map(str, v))}" for k, v in views.items()) or MISSING),
        ("sensitive data", _text(info.get("sensitive"))),
        ("source", _text(prov.get("source"))),
        ("version / retrieved", f"{_text(prov.get('version'))} / {_text(prov.get('retrieved'))}"),
        ("licence", _text(prov.get("license"))),
        ("citation", _text(prov.get("citation"))),
        ("data sha256", _text(info.get("sha256") or prov.get("sha256"))),
        ("split sha256", _text(info.get("split_sha256"))),
        ("changes on load", load_notes(info, "info")),
        ("data warnings", load_notes(info, "warning")),
    ]
    return rows


def load_notes(info: dict, level: str) -> str:
    """What loading changed (``info``) or found odd (``warning``), one sentence each: a change
    the tool made to the data is never silent. "none" when the run recorded that there were none."""
    notes = info.get("notes")
    if notes is None:
        return MISSING
    texts = [n["text"] for n in notes if n.get("level") == level]
    return " ".join(_sentence(t) for t in texts) if texts else "none"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def manifest_rows(m: dict) -> list[tuple[str, str]]:
    """The settings that decide the numbers, and where and with what they were computed."""
    cfg = m.get("config") or {}
    hw = m.get("hardware") or {}
    ray = m.get("ray") or {}
    hw_text = (f"{_text(hw.get('machine'))}, {_text(hw.get('system'))}, {_text(hw.get('cpus'))} CPUs, "
               f"{_text(hw.get('memory_gb'))} GB memory")
    where = "embedded" if ray.get("embedded") else "external cluster"
    ray_text = f"{where}, {_text(ray.get('cpus'))} CPUs, GPUs: {_text(ray.get('gpus'))}" if ray else MISSING
    return [
        ("study", _text(m.get("study"))),
        ("status", f"{_text(m.get('status'))} (started {_text(m.get('started'))}, "
                   f"finished {_text(m.get('finished'))})"),
        ("seed", _text(m.get("seed", cfg.get("seed")))),
        ("seeds", _text(m.get("seeds"))),
        ("config hash", _text(m.get("config_hash"))),
        ("git commit", _text(m.get("git_commit"))),
        ("budget", budget_text(cfg.get("budget") or {})),
        ("splits", _text(cfg.get("splits"))),
        ("resources", _text(resources(m))),
        ("primary metric setting", _text(cfg.get("metric"))),
        ("hardware", hw_text),
        ("Ray", ray_text),
        ("storage", _text(m.get("storage"))),
    ]


def resources(m: dict) -> dict | None:
    """The study's resources, with the population size the run chose where it was left to the
    device (the study says None; the manifest records the choice)."""
    res = (m.get("config") or {}).get("resources")
    if res and res.get("population") is None and m.get("population") is not None:
        res = {**res, "population": f"{m['population']} (chosen for the device)"}
    return res


def budget_text(budget: dict) -> str:
    trials, cap = budget.get("trials"), budget.get("seconds")
    cap_text = f"at most {cap:g} s per cell" if cap else "no time cap"
    return f"{_text(trials)} trials per (dataset, outer fold, learner) cell, {cap_text}"


def split_hashes(m: dict) -> list[tuple[str, str]]:
    return [(name, _text(info.get("split_sha256"))) for name, info in (m.get("datasets") or {}).items()]


def versions(m: dict) -> list[tuple[str, str]]:
    return [(k, _text(v)) for k, v in (m.get("versions") or {}).items()]


def hardware_note(m: dict) -> str:
    """Where the compute went: CPUs per trial and GPUs for deep trials, when recorded."""
    res = (m.get("config") or {}).get("resources") or {}
    ray = m.get("ray") or {}
    gpu = bool(ray.get("gpus")) and (res.get("gpus_per_deep_trial") or 0) > 0
    cpus = res.get("cpus_per_trial")
    cpu_text = f"{cpus} CPU{'s' if cpus != 1 else ''} per trial" if cpus else "CPUs as scheduled by Ray"
    return f"{cpu_text}; deep learners {'on GPU' if gpu else 'on CPU (no GPU was used)'}."
