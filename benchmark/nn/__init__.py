"""The deep-learning side: the only package that imports torch, loaded lazily by learner modules."""
from __future__ import annotations

import torch

from .estimator import TorchClassifier, TorchRegressor, make_estimator
from .population import fit_population

__all__ = ["TorchClassifier", "TorchRegressor", "device_info", "fit_population", "make_estimator"]


def device_info() -> dict:
    """Facts about the compute device for the run manifest."""
    cuda = torch.cuda.is_available()
    return {
        "torch_version": torch.__version__,
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "device_name": torch.cuda.get_device_name(0) if cuda else "cpu",
        "device_count": torch.cuda.device_count() if cuda else 0,
        "num_threads": torch.get_num_threads(),
        "cudnn_version": torch.backends.cudnn.version() if cuda else None,
    }
