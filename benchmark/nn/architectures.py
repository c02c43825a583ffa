"""Architectures that live in their own files, by module name, for ``modules.build_module``.

Each entry builds a network from the per-example input shape, the output size and the search
space's keyword hyperparameters; its file is imported only when it is built.
"""
from __future__ import annotations

from importlib import import_module

# name -> (module file, class, the per-example input it reads)
ARCHITECTURES = {
    "tabm": ("tabm", "TabMNet", "features"),
    "mlp_plr": ("plr", "MLPPLR", "features"),
    "realmlp": ("realmlp", "RealMLPNet", "features"),
    "cnn1d_dilated": ("cnn_blocks", "DilatedResNet1D", "sequence"),
    "resnet2d": ("cnn_blocks", "ResNet2D", "image"),
}
INPUTS = {"features": "(n_features,), flat features", "sequence": "(length, alphabet), a one-hot "
          "sequence", "image": "(channels, height, width), an image"}
# what the architectures of modules.py read
READS = {"mlp": "features", "resnet": "features", "cnn1d": "sequence", "cnn2d": "image",
         **{name: entry[2] for name, entry in ARCHITECTURES.items()}}


def check_input(name: str, in_shape: tuple[int, ...]) -> None:
    """A ValueError saying which input ``name`` reads when it is handed another view (which
    would otherwise fail deep inside a layer, or worse, run on the wrong axis)."""
    reads = READS.get(name)
    if reads is not None and len(in_shape) != list(INPUTS).index(reads) + 1:
        raise ValueError(f"{name} reads per-example inputs of shape {INPUTS[reads]}, but got "
                         f"shape {tuple(in_shape)}: hand it the view its learner declares")


def build(name: str, in_shape: tuple[int, ...], d_out: int, **kwargs):
    file, cls, reads = ARCHITECTURES[name]
    check_input(name, in_shape)
    net = getattr(import_module(f"{__package__}.{file}"), cls)
    first = tuple(int(s) for s in in_shape) if reads == "image" else int(in_shape[-1])
    return net(first, d_out, **kwargs)
