"""Views: the arrays learners see, derived from sequences or images, one row per example.

Deep learners read ``onehot`` (sequences) or ``image``; classical learners read ``tabular``. All views
come from the same rows in the same order, so one split plan serves every learner.
"""
from __future__ import annotations

from itertools import product

import numpy as np

ALPHABETS = {"dna": "ACGT", "protein": "ACDEFGHIKLMNPQRSTVWY"}
MAX_KMER_FEATURES = 65_536  # A**k above this would make the k-mer view too wide to be useful


def _lookup(alphabet: str) -> np.ndarray:
    """Byte -> letter index; -1 for anything outside the alphabet (N, X, gaps...)."""
    table = np.full(256, -1, dtype=np.int64)
    for i, letter in enumerate(alphabet):
        table[ord(letter)] = i
        table[ord(letter.lower())] = i
    return table


def encode(sequences, alphabet: str) -> list[np.ndarray]:
    """Each sequence as an int array of letter indices (-1 = unknown letter)."""
    table = _lookup(ALPHABETS[alphabet])
    return [table[np.frombuffer(str(s).encode("ascii", "replace"), dtype=np.uint8)] for s in sequences]


def onehot(sequences, alphabet: str = "dna", max_length: int | None = None) -> np.ndarray:
    """float32 (n, L, A); unknown letters and padding are all-zero rows, longer sequences truncated.

    Zero rows (rather than a pad symbol) keep padding invisible to convolutions' weights.
    """
    codes = encode(sequences, alphabet)
    size = len(ALPHABETS[alphabet])
    length = max_length or max((len(c) for c in codes), default=0)
    out = np.zeros((len(codes), length, size), dtype=np.float32)
    for row, c in enumerate(codes):
        c = c[:length]
        pos = np.flatnonzero(c >= 0)
        out[row, pos, c[pos]] = 1.0
    return out


def kmer_names(alphabet: str, k: int) -> list[str]:
    return ["".join(p) for p in product(ALPHABETS[alphabet], repeat=k)]


def kmer_counts(sequences, alphabet: str = "dna", k: int = 3) -> np.ndarray:
    """float64 (n, A**k) k-mer frequencies: counts divided by the number of k-mer windows.

    Dividing by the windows (length - k + 1) makes sequences of different lengths comparable.
    Windows that contain an unknown letter are skipped but still counted in the denominator.
    """
    size = len(ALPHABETS[alphabet])
    powers = size ** np.arange(k - 1, -1, -1)
    out = np.zeros((len(sequences), size**k), dtype=np.float64)
    for row, c in enumerate(encode(sequences, alphabet)):
        n_windows = len(c) - k + 1
        if n_windows <= 0:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(c, k)
        valid = (windows >= 0).all(axis=1)
        index = windows[valid] @ powers
        out[row] = np.bincount(index, minlength=size**k) / n_windows
    return out


def to_nchw(images: np.ndarray) -> np.ndarray:
    """Accept (n,H,W), (n,H,W,C) or (n,C,H,W); return (n,C,H,W).

    Channels are taken to be the small axis (1, 3 or 4): last if the last axis is that small,
    otherwise the second one.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        return images[:, None]
    if images.ndim != 4:
        raise ValueError(f"images must have 3 or 4 axes, got shape {images.shape}")
    if images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
        return np.moveaxis(images, -1, 1)
    return images


def image_view(images: np.ndarray) -> np.ndarray:
    """float32 (n,C,H,W) in [0, 1]: divided by 255 when values exceed 1 (8-bit), else by the max."""
    x = to_nchw(images).astype(np.float32)
    top = float(np.nanmax(x)) if x.size else 0.0
    if top > 1.0:
        x /= 255.0 if top <= 255.0 else top
    return x


def sequence_views(sequences, alphabet: str, k: int, max_length: int | None):
    """(views, feature names) of a sequence dataset: onehot for deep learners, k-mers for the rest."""
    views = {"onehot": onehot(sequences, alphabet, max_length),
             "tabular": kmer_counts(sequences, alphabet, k)}
    return views, kmer_names(alphabet, k)


def image_views(images: np.ndarray):
    """(views, feature names) of an image dataset: the image and its flattened pixels."""
    image = image_view(images)
    flat = image.reshape(len(image), -1).astype(np.float64)
    return {"image": image, "tabular": flat}, [f"px{i}" for i in range(flat.shape[1])]
