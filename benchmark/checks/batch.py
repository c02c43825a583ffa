"""Batch effects (Tip 4): do the features carry the batch, does the batch carry the label, and
what would a split that ignores the batches have reported?

A model that learns the batch instead of the biology scores well whenever train and test share
batches. Grouped splits stop that; these checks say how much was at stake. Every title is chosen
from the numbers it sits above: a check that cannot tell says so instead of "agree" or "evenly".
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .findings import finding

BATCH_MARGIN = 0.2  # balanced accuracy above chance that counts as "features carry the batch"
CONFOUND_V = 0.3  # bias-corrected Cramér's V between batch and label that counts as confounded
ALPHA = 0.01
MAX_FEATURES = 500  # the most variable features are enough to see a batch, and keep it cheap
PERMUTATIONS = 2000  # label permutations for the association test when expected counts are small
GAP_MARGIN = 0.05  # grouped and random scores "agree" when the gap's 95% CI is inside +/- this
GAP_LEVEL = 0.95  # (scaled by the grouped score for metrics without a fixed range, e.g. RMSE)
TABLE_ROWS = 50  # groups up to which the contingency table is kept in checks.json


def _codes(groups) -> np.ndarray:
    return np.unique(np.asarray(groups).astype(str), return_inverse=True)[1]


def batch_like(sizes: np.ndarray, n: int) -> bool:
    """Few groups, each with several examples: batches (sites, runs), not patients or animals.
    Only batch-like groups can be predicted from the features or confound the label."""
    return len(sizes) <= max(2, n // 5) and sizes.min() >= 2


def p_text(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def predictability(data, seed: int) -> dict:
    """Cross-validated balanced accuracy of a logistic regression predicting the group.

    Only for groups that look like batches (few, each with several examples): predicting one of
    hundreds of patients from a handful of samples each says nothing about batch effects.
    """
    if data.groups is None:
        return finding("batch", "info", "No batch or group column declared")
    g = _codes(data.groups)
    sizes = np.bincount(g)
    folds = int(min(5, sizes.min()))
    if not batch_like(sizes, data.n_samples) or folds < 2:
        return finding("batch", "info", "Groups too small to test as batches",
                       f"{len(sizes)} groups, the smallest with {sizes.min()} examples.")
    X = data.X
    if X.shape[1] > MAX_FEATURES:  # the most variable features, chosen without the groups
        X = X[:, np.argsort(-np.nanvar(X, axis=0))[:MAX_FEATURES]]
    model = make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True),
                          StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    pred = cross_val_predict(model, X, g, cv=cv)
    bacc, chance = float(balanced_accuracy_score(g, pred)), 1.0 / len(sizes)
    p = float(stats.binomtest(int((pred == g).sum()), len(g), sizes.max() / len(g),
                              alternative="greater").pvalue)
    numbers = dict(balanced_accuracy=bacc, chance=chance, p=p, groups=len(sizes))
    level, title = batch_words(bacc, chance, p)
    detail = (f"A logistic regression tells the {len(sizes)} groups apart with balanced accuracy "
              f"{bacc:.2f} (chance {chance:.2f}, {p_text(p)}).")
    if level == "warning":
        detail += (" The splits keep each group on one side, so models cannot score by "
                   "recognising it; the random-split gap shows what a non-grouped split would "
                   "have reported.")
    return finding("batch", level, title, detail, **numbers)


def batch_words(bacc: float, chance: float, p: float) -> tuple[str, str]:
    """Level and title for the batch predictability numbers: "carry" only when the margin over
    chance is large and significant, "no evidence" only when it is not significant."""
    numbers = f"(balanced accuracy {bacc:.2f}, chance {chance:.2f})"
    if p >= ALPHA:
        return "ok", f"No evidence that the features carry the batch {numbers}"
    if bacc - chance > BATCH_MARGIN:
        return "warning", f"The features carry the batch {numbers}"
    return "ok", f"The features carry the batch weakly {numbers}"


# ---------------------------------------------------------------- confounding

def contingency(codes: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Groups x classes counts."""
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    return np.bincount(codes * n_classes + y, minlength=n_groups * n_classes).reshape(
        n_groups, n_classes)


def chi2_stat(table: np.ndarray) -> float:
    """Pearson's chi-square of independence (no continuity correction), empty rows/columns out."""
    t = np.asarray(table, dtype=float)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0]
    expected = np.outer(t.sum(1), t.sum(0)) / t.sum()
    return float(((t - expected) ** 2 / expected).sum())


def cramers_v(table: np.ndarray) -> float:
    t = np.asarray(table)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0]
    k = min(t.shape) - 1
    return float(np.sqrt(chi2_stat(t) / (t.sum() * k))) if k > 0 else 0.0


def cramers_v_corrected(table: np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013). Plain V is large by chance alone when groups are
    many and small (0.6 with 1,500 groups of about 3): the correction takes that part out."""
    t = np.asarray(table)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0]
    n, (r, c) = t.sum(), t.shape
    if min(r, c) < 2 or n < 2:
        return 0.0
    phi2 = max(0.0, chi2_stat(t) / n - (r - 1) * (c - 1) / (n - 1))
    r_, c_ = r - (r - 1) ** 2 / (n - 1), c - (c - 1) ** 2 / (n - 1)
    k = min(r_ - 1, c_ - 1)
    return float(np.sqrt(phi2 / k)) if k > 0 else 0.0


def small_expected(table: np.ndarray) -> bool:
    """Cochran's rule fails (an expected count below 1, or over 20% of them below 5): the
    chi-square distribution is then no guide to the statistic's null distribution."""
    t = np.asarray(table, dtype=float)
    t = t[t.sum(1) > 0][:, t.sum(0) > 0]
    expected = np.outer(t.sum(1), t.sum(0)) / t.sum()
    return bool(expected.min() < 1 or (expected < 5).mean() > 0.2)


def association(codes: np.ndarray, y: np.ndarray, n_classes: int, seed: int = 0,
                permutations: int = PERMUTATIONS) -> dict:
    """Group-label association: plain and bias-corrected Cramér's V, the V expected with no
    association, and a p-value: chi-square where its approximation holds, else a permutation
    test (labels shuffled over examples, the group sizes and class counts kept)."""
    table = contingency(codes, y, n_classes)
    observed = chi2_stat(table)
    rows, cols = int((table.sum(1) > 0).sum()), int((table.sum(0) > 0).sum())
    n, k = int(table.sum()), max(min(rows, cols) - 1, 1)
    df = (rows - 1) * (cols - 1)
    if small_expected(table):
        rng = np.random.default_rng(seed)
        null = np.array([chi2_stat(contingency(codes, rng.permutation(y), n_classes))
                         for _ in range(permutations)])
        p = float((1 + (null >= observed * (1 - 1e-12)).sum()) / (permutations + 1))
        test, expected_chi2 = "permutation", float(null.mean())
    else:
        p = float(stats.chi2.sf(observed, df)) if df > 0 else 1.0
        test, expected_chi2 = "chi-square", float(df)
    return {"cramers_v": cramers_v(table), "cramers_v_corrected": cramers_v_corrected(table),
            "v_chance": float(np.sqrt(expected_chi2 / (n * k))), "p": p, "test": test,
            "groups": rows, "table": table}


def confounding(data, seed: int = 0) -> dict:
    """Is the label unevenly spread over the groups? Then batch and biology cannot be told
    apart: a model can reach the label through the batch, and grouped splits lose classes.

    For groups that are not batch-like (patients, animals) a label that follows the group is
    expected, a diagnosis being the patient's, and the grouped split already keeps each group
    on one side: then the association is reported, not flagged.
    """
    if data.groups is None or data.task == "regression":
        return finding("confounding", "info", "No group column, or a regression target")
    codes = _codes(data.groups)
    a = association(codes, data.y, data.n_classes, seed)
    numbers = {k: v for k, v in a.items() if k != "table"}
    if a["groups"] <= TABLE_ROWS:
        numbers["table"] = a["table"]
    batches = batch_like(np.bincount(codes), data.n_samples)
    level, title = confounding_words(a["cramers_v_corrected"], a["p"], batches)
    detail = (f"{a['groups']} groups; Cramér's V {a['cramers_v']:.2f} (bias-corrected "
              f"{a['cramers_v_corrected']:.2f}; {a['v_chance']:.2f} expected with no association), "
              f"{p_text(a['p'])} by {a['test']} test.")
    if level == "problem":
        detail += (" A model can predict the label from batch signal, and no split can separate "
                   "the two. Balance the design or correct the batch within each training fold.")
    elif level == "ok" and title.startswith("The label follows"):
        detail += (" Expected when the label belongs to the group (a patient's diagnosis): the "
                   "grouped split keeps each group on one side.")
    return finding("confounding", level, title, detail, batch_like=batches, **numbers)


def confounding_words(v: float, p: float, batches: bool) -> tuple[str, str]:
    """Level and title from the bias-corrected V and p: "no evidence" only when p says so."""
    numbers = f"(Cramér's V {v:.2f}, {p_text(p)})"
    if p >= ALPHA:
        return "ok", f"No evidence that the label depends on the group {numbers}"
    if v < CONFOUND_V:
        return "ok", f"The label depends weakly on the group {numbers}"
    if batches:
        return "problem", f"The batch is confounded with the label {numbers}"
    return "ok", f"The label follows the group {numbers}"


# ---------------------------------------------------------------- grouped vs random split

def random_split(y: np.ndarray, n_test: int, seed: int, stratify: bool) -> tuple:
    """A random (stratified) split with as many test examples as the grouped outer fold."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    train, test = train_test_split(rows, test_size=n_test, random_state=seed,
                                   stratify=y if stratify else None)
    return np.sort(train), np.sort(test)


def corrected_interval(gaps, test_train_ratio: float, level: float = GAP_LEVEL) -> tuple:
    """Mean of per-fold gaps and its t interval with Nadeau & Bengio's correction.

    Folds share training rows, so their gaps are correlated and the plain variance of the mean
    (s^2 / J) is too small; the corrected variance is s^2 (1/J + n_test/n_train) (Nadeau &
    Bengio 2003; Bouckaert & Frank 2004), with J - 1 degrees of freedom.
    """
    d = np.asarray(gaps, dtype=float)
    j, mean = len(d), float(np.mean(d)) if len(d) else float("nan")
    if j < 2:  # one fold: no spread to judge it by
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, j - 1) * np.sqrt(
        (1.0 / j + test_train_ratio) * d.var(ddof=1))
    return mean, float(mean - half), float(mean + half)


def gap_rows(per_fold: list[dict]) -> list[dict]:
    """Per best model: mean grouped and random scores, the mean gap and its corrected interval,
    from the per-fold results of the refit jobs (``refit._random_split``)."""
    models: dict[tuple, list[dict]] = {}
    for r in per_fold:
        models.setdefault((r["role"], r["learner"]), []).append(r)
    rows = []
    for (role, learner), rs in sorted(models.items()):
        ratio = float(np.mean([r.get("n_test", 1) / max(r.get("n_train", 1), 1) for r in rs]))
        mean, low, high = corrected_interval([r["gap"] for r in rs], ratio)
        rows.append({"role": role, "learner": learner, "folds": len(rs),
                     "grouped": float(np.mean([r["grouped"] for r in rs])),
                     "random": float(np.mean([r["random"] for r in rs])),
                     "gap": mean, "low": low, "high": high,
                     "fold_gaps": [float(r["gap"]) for r in rs]})
    return rows


def gap_margin(metric: str, grouped: float) -> float:
    """GAP_MARGIN in the metric's units: absolute for scores in [0, 1], relative to the grouped
    score for errors in the target's units (RMSE, MAE)."""
    return GAP_MARGIN * (abs(grouped) if metric in ("rmse", "mae") else 1.0)


def gap_verdict(row: dict, margin: float) -> str:
    """overstated (the interval is above 0), agree (inside +/- margin), understated (below 0),
    large (unresolved, mean beyond the margin) or unresolved."""
    if row["low"] > 0:
        return "overstated"
    if row["high"] < 0:
        return "understated"
    if -margin <= row["low"] and row["high"] <= margin:
        return "agree"
    return "large" if row["gap"] > margin else "unresolved"


GAP_WORDS = {  # verdict -> (level, title start); the numbers follow in every title
    "overstated": ("warning", "A random split would have overstated the scores"),
    "large": ("warning", "A random split may have overstated the scores"),
    "unresolved": ("info", "Too few folds to compare grouped and random splits"),
    "agree": ("ok", "Grouped and random splits agree"),
    "understated": ("ok", "A random split would not have scored higher"),
}
_GAP_ORDER = ["overstated", "large", "unresolved", "understated", "agree"]


def gap_finding(rows: list[dict], metric: str = "auroc") -> dict:
    """The grouped vs random split gap of the best learners, each judged against its own
    interval: "agree" needs the whole 95% interval inside +/- GAP_MARGIN, "overstated" the whole
    interval above 0. The model with the most worrying verdict titles the finding."""
    if not rows:
        return finding("split_gap", "info", "No grouped vs random comparison",
                       "Only for datasets split by group, once the best learners are known.")
    parts, judged = [], []
    for r in rows:
        margin = gap_margin(metric, r["grouped"])
        verdict = gap_verdict(r, margin)
        judged.append((verdict, r, margin))
        parts.append(f"{r['learner']}: {r['grouped']:.3f} grouped vs {r['random']:.3f} random, "
                     f"gap {gap_text(r)} over {r['folds']} folds ({verdict})")
    verdict, worst, margin = min(judged, key=lambda x: _GAP_ORDER.index(x[0]))
    level, words = GAP_WORDS[verdict]
    title = f"{words} ({worst['learner']}: gap {gap_text(worst)})"
    detail = ("; ".join(parts) + ". Positive: the optimism a split that ignores the groups would "
              f"have reported. 95% intervals corrected for overlapping training sets (Nadeau & "
              f"Bengio); \"agree\" needs the interval inside ±{margin:.3g}.")
    return finding("split_gap", level, title, detail, verdict=verdict, margin=margin, rows=rows)


def gap_text(r: dict) -> str:
    interval = ("" if not np.isfinite(r["low"]) else
                f", 95% CI {r['low']:+.3f} to {r['high']:+.3f}")
    return f"{r['gap']:+.3f}{interval}"
