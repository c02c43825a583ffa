"""MLP-PLR (Gorishniy, Rubachev & Babenko, NeurIPS 2022, "On embeddings for numerical features
in tabular deep learning"): each feature passes through periodic embeddings (sin and cos of
learned frequencies, a linear layer and ReLU) before a plain MLP.

The embeddings are the authors' ``rtdl_num_embeddings`` (installed with ``tabm``); the paper's
MLP-PLR turned a plain MLP into one of the strongest tabular nets of its study, at the cost of
an embedding per feature (best on a few hundred features, not thousands).
"""
from __future__ import annotations

import torch
from torch import nn

from .modules import MLP


class MLPPLR(nn.Module):
    def __init__(self, d_in: int, d_out: int, d_embedding: int = 24, n_frequencies: int = 48,
                 frequency_init_scale: float = 0.01, lite: bool = False, depth: int = 2,
                 width: int = 256, dropout: float = 0.1, activation: str = "relu"):
        super().__init__()
        from rtdl_num_embeddings import PeriodicEmbeddings

        self.embed = PeriodicEmbeddings(int(d_in), int(d_embedding),
                                        n_frequencies=int(n_frequencies),
                                        frequency_init_scale=float(frequency_init_scale),
                                        lite=bool(lite))
        self.mlp = MLP(int(d_in) * int(d_embedding), d_out, depth=depth, width=width,
                       dropout=dropout, activation=activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.embed(x).flatten(1))
