"""Names and colours the reader sees: one place, so tables, figures and sentences agree.

Colours come from the Okabe-Ito and Paul Tol colour-blind-safe palettes: classical learners
take cool and neutral hues (blue, green, sky blue, grey, indigo, black), deep learners warm
ones, and deep learners are also drawn with diamond markers, so the two families stay apart
without colour.
"""
from __future__ import annotations

LEARNERS = {
    "logreg": "logistic regression", "random_forest": "random forest", "knn": "k-NN",
    "naive_bayes": "naive Bayes", "svm": "SVM", "xgboost": "XGBoost", "mlp": "MLP",
    "resnet": "ResNet", "cnn1d": "1D CNN", "cnn2d": "2D CNN", "lightgbm": "LightGBM",
    "catboost": "CatBoost", "tabm": "TabM", "realmlp": "RealMLP", "mlp_plr": "MLP-PLR",
    "cnn1d_dilated": "dilated 1D CNN", "resnet2d": "2D ResNet",
}
METRICS = {
    "auroc": "AUROC", "auprc": "AUPRC", "balanced_accuracy": "balanced accuracy", "mcc": "MCC",
    "accuracy": "accuracy", "log_loss": "log loss", "brier": "Brier score", "rmse": "RMSE",
    "mae": "MAE", "r2": "R²",
}
CLASSIFICATION_PANEL = ["auroc", "auprc", "balanced_accuracy", "mcc", "log_loss", "brier"]
REGRESSION_PANEL = ["rmse", "mae", "r2"]

COLORS = {
    # classical: cool and neutral
    "logreg": "#0072B2", "random_forest": "#009E73", "knn": "#56B4E9", "naive_bayes": "#999999",
    "svm": "#332288", "xgboost": "#000000", "lightgbm": "#117733", "catboost": "#4477AA",
    # deep: warm
    "mlp": "#D55E00", "resnet": "#E69F00", "cnn1d": "#CC79A7", "cnn2d": "#882255",
    "tabm": "#EE6677", "realmlp": "#AA3377", "mlp_plr": "#CCBB44", "cnn1d_dilated": "#994455",
    "resnet2d": "#EE7733",
}
SPARE = {"classical": ["#44AA99", "#88CCEE", "#666666"], "deep": ["#FFAABB", "#BB5566", "#DDAA33"]}
SYMBOLS = {"classical": "circle", "deep": "diamond"}
FAMILY_COLORS = {"classical": "#0072B2", "deep": "#D55E00"}


def learner(name: str) -> str:
    return LEARNERS.get(name, name.replace("_", " "))


def metric(name: str) -> str:
    return METRICS.get(name, name.replace("_", " "))


def color(name: str, family: str = "classical") -> str:
    if name in COLORS:
        return COLORS[name]
    spare = SPARE.get(family, SPARE["classical"])
    return spare[sum(map(ord, name)) % len(spare)]


def panel(task: str) -> list[str]:
    return REGRESSION_PANEL if task == "regression" else CLASSIFICATION_PANEL


def seconds(s: float) -> str:
    """Durations a person reads at a glance: 42 s, 3.5 min, 2.1 h."""
    if s != s:  # NaN
        return "n/a"
    if s < 60:
        return f"{s:.2g} s" if s < 1 else (f"{s:.1f} s" if s < 10 else f"{s:.0f} s")
    if s < 3600:
        return f"{s / 60:.1f} min".replace(".0 min", " min")
    if s < 86400 * 2:
        return f"{s / 3600:.1f} h".replace(".0 h", " h")
    return f"{s / 86400:.1f} d".replace(".0 d", " d")
