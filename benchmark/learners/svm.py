"""Support vector machine with an RBF kernel.

Probabilities come from sigmoid calibration on 5 unshuffled internal folds of the training rows
(``CalibratedClassifierCV(ensemble=False)``, scikit-learn's replacement for ``probability=True``).
"""
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import SVC, SVR

from ._common import ALL_TASKS, FLAT_VIEWS, pipeline

NAME = "svm"
FAMILY = "classical"
VIEWS = FLAT_VIEWS
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    if task == "regression":
        return pipeline(SVR(**params), scale=True)
    svc = pipeline(SVC(random_state=seed, **params), scale=True)
    return CalibratedClassifierCV(svc, method="sigmoid", cv=5, ensemble=False)
