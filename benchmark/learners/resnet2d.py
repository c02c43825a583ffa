"""A small ResNet for images (He et al. 2016, the CIFAR variant scaled down).

The deep baseline every image benchmark fields; residual stages with batch norm and stride-2
downsampling, beside the plain VGG-style ``cnn2d`` (``benchmark.nn.cnn_blocks``).
"""
from ._common import ALL_TASKS

NAME = "resnet2d"
FAMILY = "deep"
USES_VALIDATION = True
VIEWS = {"image": "image"}
TASKS = ALL_TASKS


def build(params: dict, task: str, seed: int, threads: int):
    from benchmark.nn import make_estimator  # torch is imported only when a deep learner runs

    return make_estimator(NAME, params, task, seed, threads)
