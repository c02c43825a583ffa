"""Leakage audit (Tips 4 and 7), from the data and the split plan alone: no model is fit.

Four ways a test fold can carry the answer: the same example sits in train and test, a patient or
batch sits on both sides, one feature is a stand-in for the label (an id that encodes it, a
post-diagnosis measurement), or the pattern of missing values gives the label or group away.
Declared ``metadata:`` columns are audited like features: they never reach a model, but one that
predicts the label (a site, a date, a processing run) may have left its footprint in the features.
Each is cheap enough to run on every dataset of every run.
"""
from __future__ import annotations

import hashlib

import numpy as np
from scipy import stats

from .findings import finding

PROXY_AUROC = 0.99  # a single feature this good is almost certainly not biology
STRONG_AUROC = 0.90  # listed, so a reader can check it is not a proxy, but not flagged
MISSING_ALPHA = 0.01  # Bonferroni-corrected, over the features that have missing values
MISSING_V = 0.2  # Cramér's V: effect size a missingness pattern needs to be flagged
MAX_LEVELS = 10  # a numeric metadata column with at most this many values is a category


def row_hashes(data) -> np.ndarray:
    """A digest of each example over every view (NaN written one way), to find exact copies."""
    n = data.n_samples
    digests = [hashlib.blake2b(digest_size=16) for _ in range(n)]
    for name in sorted(data.views):
        v = np.ascontiguousarray(np.nan_to_num(np.asarray(data.views[name], dtype=np.float64),
                                               nan=np.inf)).reshape(n, -1)
        for i in range(n):
            digests[i].update(v[i].tobytes())
    return np.array([d.hexdigest() for d in digests])


def duplicates(data, plan) -> dict:
    """Test examples with an exact copy among the training examples of the same outer fold.

    Only a copy with the test example's own label lets a model score by memory (a problem); a
    copy that carries another label cannot (the same input labelled twice: a warning about the
    labels, not a leak). In regression any copy counts."""
    h = row_hashes(data)
    _, counts = np.unique(h, return_counts=True)
    labelled = data.task != "regression"
    label = np.asarray(data.y, dtype=np.int64) if labelled else np.zeros(len(h), np.int64)
    per_fold, crossed = [], []  # copies with the same label / only with other labels
    for fold in plan.folds:
        train: dict[str, set] = {}
        for i in fold.train:
            train.setdefault(h[i], set()).add(label[i])
        same = sum(label[i] in train.get(h[i], ()) for i in fold.test)
        per_fold.append(int(same))
        crossed.append(int(sum(h[i] in train for i in fold.test) - same))
    labels: dict[str, set] = {}  # the same example with two labels (none in regression)
    for x, y in zip(h, label):
        labels.setdefault(x, set()).add(y)
    conflicting = sum(len(v) > 1 for v in labels.values())
    n_dup = int((counts > 1).sum())
    numbers = dict(per_fold=per_fold, conflicting_per_fold=crossed, duplicated=n_dup,
                   conflicting=conflicting)
    if sum(per_fold):
        return finding("duplicates", "problem", "Identical examples in train and test",
                       f"{sum(per_fold)} test examples have an exact copy with the same label in "
                       f"the training part of their outer fold (per fold: {per_fold}); a model "
                       f"can score by memory.", **numbers)
    if sum(crossed):
        return finding("duplicates", "warning", "The same example labelled differently",
                       f"{sum(crossed)} test examples have an exact copy in the training part of "
                       f"their outer fold, but under another label (per fold: {crossed}; "
                       f"inputs with two labels: {conflicting}): memory cannot score there; "
                       f"check those labels.", **numbers)
    level = "warning" if n_dup else "ok"
    return finding("duplicates", level, "No example is in both train and test",
                   f"{n_dup} examples occur more than once (never across train and test)"
                   + (f"; {conflicting} with conflicting labels" if conflicting else "") + ".",
                   **numbers)


def shared_groups(data, plan) -> dict:
    """Groups (patients, batches) present on both sides of an outer split."""
    if data.groups is None:
        return finding("groups", "info", "No group column declared",
                       "Declare `group:` when several examples come from one patient, animal or "
                       "batch: only then can the splits keep them on one side.")
    shared = [len(set(data.groups[f.train].tolist()) & set(data.groups[f.test].tolist()))
              for f in plan.folds]
    if sum(shared):
        return finding("groups", "problem", "Groups shared between train and test",
                       f"Outer folds share {shared} groups between training and test examples.",
                       shared=shared)
    return finding("groups", "ok", "No group is on both sides of a split",
                   f"{len(np.unique(data.groups))} groups; every outer fold keeps each group on "
                   "one side.", shared=shared)


def feature_auroc(X: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per feature, the best one-vs-rest AUROC of the feature alone, oriented to be >= 0.5.

    Missing values are set to the column median first (they then carry no rank signal). Ties
    share ranks, so a constant feature scores 0.5.
    """
    X = np.asarray(X, dtype=np.float64)
    med = np.nanmedian(np.where(np.isnan(X).all(0), 0.0, X), axis=0) if X.size else 0.0
    X = np.where(np.isnan(X), med, X)
    ranks = stats.rankdata(X, axis=0)
    best = np.full(X.shape[1], 0.5)
    for k in ([1] if n_classes == 2 else range(n_classes)):
        pos = y == k
        n1, n0 = pos.sum(), (~pos).sum()
        if not n1 or not n0:
            continue
        auc = (ranks[pos].sum(0) - n1 * (n1 + 1) / 2) / (n1 * n0)
        best = np.maximum(best, np.maximum(auc, 1 - auc))
    return best


def pairwise_auroc(X: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Per feature, the mean over every pair of classes of the feature's AUROC between the two
    (each oriented to be >= 0.5; Hand & Till's M measure for one feature). Near 1 only when the
    feature alone orders every class apart, as an identifier sorted by class does; a sign that
    marks one disease (a pathognomonic feature) scores high for that class's pairs only."""
    X = np.asarray(X, dtype=np.float64)
    X = np.where(np.isnan(X), np.nanmedian(np.where(np.isnan(X).all(0), 0.0, X), axis=0), X)
    present = [k for k in range(n_classes) if (y == k).any()]
    total, pairs = np.zeros(X.shape[1]), 0
    for i, a in enumerate(present):
        for b in present[i + 1:]:
            rows = (y == a) | (y == b)
            total += feature_auroc(X[rows], (y[rows] == b).astype(int), 2)
            pairs += 1
    return total / pairs if pairs else np.full(X.shape[1], 0.5)


def label_proxies(data) -> dict:
    """Single features that separate the classes almost perfectly on their own. With more than
    two classes a feature must separate every pair of classes (``pairwise_auroc``); one that
    marks a single class is reported as a warning (``class_markers``), since that is often
    biology (a pathognomonic sign) rather than a leak."""
    if data.task == "regression":
        r = np.array([abs(stats.spearmanr(c, data.y, nan_policy="omit")[0]) for c in data.X.T])
        score, threshold, what = np.nan_to_num(r), PROXY_AUROC, "|Spearman rho|"
    elif data.n_classes > 2:
        score, threshold = pairwise_auroc(data.X, data.y, data.n_classes), PROXY_AUROC
        what = "mean pairwise AUROC"
    else:
        score, threshold, what = feature_auroc(data.X, data.y, data.n_classes), PROXY_AUROC, "AUROC"
    order = np.argsort(-score)[:5]
    top = [{"feature": data.feature_names[i], "score": float(score[i])} for i in order]
    proxies = [t for t in top if t["score"] >= threshold]
    if not proxies and data.task != "regression" and data.n_classes > 2:
        markers = class_markers(data, threshold)
        if markers:
            return markers
    if proxies:
        names = ", ".join(f"{t['feature']} ({what} {t['score']:.3f})" for t in proxies)
        return finding("proxy", "problem", "A single feature predicts the label",
                       f"{names}: a feature this good alone is usually an identifier, a date or a "
                       "measurement taken after the outcome. Drop it (`drop:`) unless it is "
                       "biology.", top=top, threshold=threshold)
    strong = [t for t in top if t["score"] >= STRONG_AUROC]
    note = (" Strongest: " + ", ".join(f"{t['feature']} ({t['score']:.3f})" for t in strong) + "."
            if strong else "")
    if not top:
        return finding("proxy", "info", "No features to audit", top=top, threshold=threshold)
    return finding("proxy", "ok", f"No single feature reaches {what} {threshold} "
                   f"(best: {top[0]['feature']}, {top[0]['score']:.3f})",
                   f"The best single feature reaches {what} {top[0]['score']:.3f} "
                   f"(flagged at {threshold}).{note}", top=top, threshold=threshold)


def class_markers(data, threshold: float) -> dict | None:
    """Features that single out one class on their own (one-vs-rest AUROC >= ``threshold``)."""
    score = feature_auroc(data.X, data.y, data.n_classes)
    hits = [{"feature": data.feature_names[i], "score": float(score[i])}
            for i in np.argsort(-score)[:5] if score[i] >= threshold]
    if not hits:
        return None
    names = ", ".join(f"{t['feature']} (AUROC {t['score']:.3f})" for t in hits)
    return finding("proxy", "warning", "A single feature singles out one class",
                   f"{names} separate one class from all others on their own, though none orders "
                   "every class apart. In diagnosis this is often biology (a sign specific to one "
                   "disease); make sure each was recorded before the outcome was known.",
                   top=hits, threshold=threshold)


def _association(indicator: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(chi-square p, Cramér's V) of a missing/present indicator against labels."""
    table = np.array([[np.sum(indicator & (labels == v)), np.sum(~indicator & (labels == v))]
                      for v in np.unique(labels)])
    table = table[table.sum(1) > 0]
    if table.shape[0] < 2 or (table.sum(0) == 0).any():
        return 1.0, 0.0
    chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    return float(p), float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def missingness(data) -> dict:
    """Missing values whose pattern predicts the label or the group (e.g. a test only run on
    suspected cases): the imputer's fill value then encodes the answer."""
    miss = np.isnan(data.X)
    cols = np.flatnonzero(miss.any(0) & ~miss.all(0))
    if not len(cols):
        detail = ("No feature has missing values." if not miss.any() else
                  "Every feature is either complete or entirely missing.")
        return finding("missingness", "ok", "No missing values to explain", detail, hits=[])
    targets = {"label": data.y} if data.task != "regression" else {}
    groups = np.asarray(data.groups).astype(str) if data.groups is not None else None
    if groups is not None and len(np.unique(groups)) <= max(2, data.n_samples // 5):
        targets["group"] = groups  # batch-like groups only: chi-square needs filled cells
    alpha, hits = MISSING_ALPHA / (len(cols) * max(len(targets), 1)), []
    for what, labels in targets.items():
        for j in cols:
            p, v = _association(miss[:, j], labels)
            if p < alpha and v >= MISSING_V:
                hits.append({"feature": data.feature_names[j], "against": what, "p": p, "v": v})
    hits.sort(key=lambda h: -h["v"])
    if hits:
        names = ", ".join(f"{h['feature']} (vs {h['against']}, V={h['v']:.2f})" for h in hits[:5])
        return finding("missingness", "problem", "Missing values predict the label or group",
                       f"{len(hits)} features: {names}. Where a value is missing tells the model "
                       "the answer; check how the data were collected.", hits=hits[:20])
    return finding("missingness", "ok", "Missingness does not predict the label or group",
                   f"{len(cols)} features with missing values; none is associated with "
                   f"{' or '.join(targets) or 'anything tested'} (chi-square, Bonferroni "
                   f"α={MISSING_ALPHA}, Cramér's V ≥ {MISSING_V}).", hits=[])


def _numeric(values: np.ndarray) -> np.ndarray | None:
    """The column as floats (NaN for missing) when every present value is a number, else None."""
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return out if not np.isnan(out).all() else None


def loo_rates(codes: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per example, the mean ``target`` of the other examples of its category (leave-one-out
    target encoding); the overall mean for a category of one. Leaving the example out keeps an
    identifier-like column (one category per example) from predicting anything."""
    target = np.asarray(target, dtype=np.float64)
    total = np.bincount(codes, weights=target)[codes]
    count = np.bincount(codes)[codes]
    others = count - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (total - target) / others
    return np.where(others > 0, rate, target.mean())


def column_score(values, y: np.ndarray, task: str, n_classes: int) -> tuple[float, str]:
    """How well one column predicts the label on its own, on the scale features are judged by:
    (score, how). Numeric columns with more than MAX_LEVELS values: oriented AUROC (regression:
    |Spearman rho|), as ``label_proxies``; categorical ones: AUROC (rho) of the leave-one-out rate
    of each class in the example's category, one-vs-rest, best class."""
    x = _numeric(values)
    if x is not None and len(np.unique(x[~np.isnan(x)])) > MAX_LEVELS:
        if task == "regression":
            ok = ~np.isnan(x)
            return float(abs(np.nan_to_num(stats.spearmanr(x[ok], y[ok])[0]))), "|Spearman rho|"
        return float(feature_auroc(x[:, None], y, n_classes)[0]), "AUROC"
    codes = np.unique(np.asarray(values).astype(str), return_inverse=True)[1]
    if task == "regression":
        rho = stats.spearmanr(loo_rates(codes, y), y)[0]
        return float(max(np.nan_to_num(rho), 0.0)), "Spearman rho (leave-one-out category mean)"
    best = 0.5
    for k in ([1] if n_classes == 2 else range(n_classes)):
        pos = y == k
        if pos.any() and (~pos).any():
            rate = loo_rates(codes, pos)
            ranks = stats.rankdata(rate)
            n1, n0 = pos.sum(), (~pos).sum()
            best = max(best, float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)))
    return best, "AUROC (leave-one-out class rate)"


def _same(a, b) -> bool:
    return b is not None and len(a) == len(b) and bool(
        (np.asarray(a).astype(str) == np.asarray(b).astype(str)).all())


def metadata_proxies(data) -> dict:
    """Metadata columns that predict the label on their own, judged as features are.

    A metadata column never reaches a model, so it leaks nothing by itself; but a site, date or
    run that predicts the label may also mark the features (a batch effect), and then models can
    score through it. The group column, when it is also declared metadata, is left to the
    confounding check, which judges a group's link to the label.
    """
    if not data.metadata:
        return finding("metadata", "info", "No metadata columns declared")
    scored, group_cols = [], []
    for name, values in data.metadata.items():
        if _same(values, data.groups):
            group_cols.append(name)
            continue
        score, how = column_score(values, data.y, data.task, data.n_classes)
        scored.append({"column": name, "score": score, "how": how})
    scored.sort(key=lambda c: -c["score"])
    strong = [c for c in scored if c["score"] >= STRONG_AUROC]
    note = (f" {', '.join(group_cols)}: also the group column, judged by the confounding check."
            if group_cols else "")
    numbers = dict(columns=scored, threshold=STRONG_AUROC, group_columns=group_cols)
    if strong:
        names = ", ".join(f"{c['column']} ({c['how']} {c['score']:.3f})" for c in strong)
        what = (f"Metadata column {strong[0]['column']} predicts" if len(strong) == 1 else
                f"{len(strong)} metadata columns predict")
        return finding("metadata", "warning",
                       f"{what} the label ({strong[0]['column']}: {strong[0]['score']:.2f})",
                       f"{names}. Metadata never reach the models, so this is no leak by itself; "
                       "but if such a column records how or where samples were handled (site, "
                       "batch, date), the features may carry it and the scores may reflect it "
                       "rather than biology: declare it as `group:` to keep its values apart. If "
                       "it describes the label (a subtype), there is nothing to do." + note,
                       **numbers)
    if not scored:
        return finding("metadata", "info", "Only the group column is declared as metadata",
                       note.strip(), **numbers)
    best = scored[0]
    return finding("metadata", "ok", f"No metadata column reaches {STRONG_AUROC} "
                   f"(best: {best['column']}, {best['score']:.2f})",
                   f"{len(scored)} columns; the best predicts the label with {best['how']} "
                   f"{best['score']:.3f} (reported from {STRONG_AUROC})." + note, **numbers)


def audit(data, plan) -> list[dict]:
    """Every leakage check on one dataset, in the order the report lists them."""
    return [duplicates(data, plan), shared_groups(data, plan), label_proxies(data),
            metadata_proxies(data), missingness(data)]
