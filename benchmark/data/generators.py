"""Seeded synthetic datasets that look like biology and carry known traps (pure numpy, deterministic).

Bump ``VERSION`` whenever a generator's output changes for the same parameters: it is recorded in
the provenance of every result, so old and new numbers are never silently compared.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

VERSION = "1"
DNA = np.array(list("ACGT"))


def expression(n_samples: int = 120, n_genes: int = 2000, n_informative: int = 12,
               class_shift: float = 1.0, block_size: int = 50, n_batches: int = 5,
               batch_shift: float = 0.8, batch_fraction: float = 0.4,
               missing_rate: float = 0.005, seed: int = 0) -> pd.DataFrame:
    """An expression-like set: few samples, many correlated genes, a real batch effect.

    Log-normal means, co-regulated blocks of genes (a shared latent factor per block), Poisson
    counts reported as log2(count + 1). ``n_informative`` genes move by ``class_shift`` in tumours.
    Each batch adds its own offset to ``batch_fraction`` of the genes: a model that learns batch
    instead of biology is caught only when splits respect the ``batch`` column.
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % 2)
    batch = rng.permutation(np.arange(n_samples) % n_batches)
    mu = rng.normal(5.0, 1.5, n_genes)
    block = np.arange(n_genes) // block_size
    factors = rng.normal(0.0, 1.0, (n_samples, block.max() + 1))
    loading = rng.uniform(0.3, 0.8, n_genes)
    log_mean = mu + factors[:, block] * loading + rng.normal(0.0, 0.3, (n_samples, n_genes))
    informative = rng.choice(n_genes, n_informative, replace=False)
    signs = rng.choice([-1.0, 1.0], n_informative)
    log_mean[:, informative] += np.outer(y, signs * class_shift)
    affected = rng.random((n_batches, n_genes)) < batch_fraction
    offsets = rng.normal(0.0, batch_shift, (n_batches, n_genes)) * affected
    log_mean += offsets[batch]
    counts = rng.poisson(np.exp(np.minimum(log_mean, 15.0)))
    values = np.log2(counts + 1.0)
    values[rng.random(values.shape) < missing_rate] = np.nan
    frame = pd.DataFrame(values, columns=[f"gene_{i + 1:04d}" for i in range(n_genes)])
    frame.insert(0, "batch", [f"batch{b + 1}" for b in batch])
    frame.insert(0, "target", np.where(y == 1, "tumor", "normal"))
    return frame


def _mutate(motif: str, rng: np.random.Generator, rate: float) -> str:
    """Resolve N to a random base, then substitute each base with probability ``rate``."""
    bases = np.array([rng.choice(DNA) if b == "N" else b for b in motif])
    hit = rng.random(len(bases)) < rate
    bases[hit] = rng.choice(DNA, hit.sum())
    return "".join(bases)


def _plant(seq: np.ndarray, site: str, rng: np.random.Generator) -> None:
    start = rng.integers(0, len(seq) - len(site) + 1)
    seq[start:start + len(site)] = list(site)


def dna_motifs(n_samples: int = 400, min_length: int = 80, max_length: int = 120,
               motifs: tuple[str, ...] = ("TATAAT", "TTGACA", "CACNTG"),
               mutation_rate: float = 0.1, decoy_rate: float = 0.3, copies: int = 1,
               seed: int = 0) -> pd.DataFrame:
    """Variable-length DNA; positives carry ``copies`` planted motifs (noisy, like a promoter with
    repeated binding sites), negatives may carry a decoy.

    The decoy is a motif written backwards: same letters, wrong order, so a bag-of-letters model
    is fooled where a model of order is not. ``CACNTG`` is degenerate (N = any base). The
    ``motif`` column says what was planted, for subgroup analysis; it must never be a feature.
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % 2)
    sequences, planted = [], []
    for label in y:
        seq = rng.choice(DNA, rng.integers(min_length, max_length + 1))
        motif = motifs[rng.integers(len(motifs))]
        if label == 1:
            for _ in range(copies):
                _plant(seq, _mutate(motif, rng, mutation_rate), rng)
            planted.append(motif)
        elif rng.random() < decoy_rate:
            _plant(seq, _mutate(motif[::-1], rng, 0.0), rng)
            planted.append("decoy")
        else:
            planted.append("none")
        sequences.append("".join(seq))
    return pd.DataFrame({"sequence": sequences, "motif": planted,
                         "target": np.where(y == 1, "motif", "background")})


def motif_position(n_samples: int = 400, length: int = 100, motif: str = "TATAAT",
                   position: int = 30, jitter: int = 2, mutation_rate: float = 0.1,
                   seed: int = 0) -> pd.DataFrame:
    """Fixed-length DNA where every sequence carries the motif once and only its position
    decides the label: positives at ``position`` (give or take ``jitter`` bases), like a TATA box
    a set distance upstream of a transcription start or a splice site's consensus at the exon
    boundary; negatives anywhere that does not overlap that window.

    Both classes hold the same letters in the same amounts, so k-mer counts carry next to no
    signal, while base-by-position features (a one-hot view) carry nearly all of it. The
    ``position`` column (where the motif starts) is for subgroup analysis; never a feature.
    """
    reach = jitter + len(motif)  # negatives start this far from the positive window or more
    if length < len(motif) or not 0 <= position - jitter <= position + jitter <= length - len(motif):
        raise ValueError(f"the motif ({len(motif)} bases) at {position} +/- {jitter} must fit in "
                         f"{length} bases")
    elsewhere = np.array([s for s in range(length - len(motif) + 1) if abs(s - position) >= reach])
    if not len(elsewhere):
        raise ValueError(f"{length} bases leave no room for a motif away from position {position}")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % 2)
    sequences, starts = [], []
    for label in y:
        seq = rng.choice(DNA, length)
        start = position + rng.integers(-jitter, jitter + 1) if label else rng.choice(elsewhere)
        site = _mutate(motif, rng, mutation_rate)
        seq[start:start + len(site)] = list(site)
        sequences.append("".join(seq))
        starts.append(int(start))
    return pd.DataFrame({"sequence": sequences, "position": starts,
                         "target": np.where(y == 1, "at_site", "elsewhere")})


GENERATORS = {"expression": expression, "dna_motifs": dna_motifs, "motif_position": motif_position}
