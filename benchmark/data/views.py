"""Views: the arrays learners see, derived from sequences or images, one row per example.

Deep learners read ``onehot`` (sequences) or ``image``. Classical learners may read every flat
*representation* of the data (``representations``): k-mer counts of several k or the flattened
one-hot sequence; flat or average-pooled pixels. Which one is a hyper-parameter the search tunes
within the same trial budget, so a classical learner is never denied the information a deep one
sees. All views come from the same rows in the same order, so one split plan serves every learner.
"""
from __future__ import annotations

from itertools import product

import numpy as np

ALPHABETS = {"dna": "ACGT", "protein": "ACDEFGHIKLMNPQRSTVWY"}
MAX_KMER_FEATURES = 65_536  # A**k above this would make the k-mer view too wide to be useful
KMER_SIZES = 3  # k-mer representations offered: the spec's k and the two below it (k >= 1)
POOLS = (2, 4)  # average-pooling factors offered on images...
MIN_POOLED = 4  # ...where the pooled image keeps at least this many cells per side


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


def pooled(image: np.ndarray, factor: int) -> np.ndarray:
    """float32 (n, C, ceil(H/f), ceil(W/f)): means of f x f blocks; edge blocks average the
    pixels they hold (no padding enters a mean)."""
    n, c, h, w = image.shape
    hp, wp = -(-h // factor) * factor, -(-w // factor) * factor
    sums = np.zeros((n, c, hp, wp), dtype=np.float64)
    sums[:, :, :h, :w] = image
    counts = np.zeros((hp, wp))
    counts[:h, :w] = 1.0
    shape = (hp // factor, factor, wp // factor, factor)
    block = sums.reshape(n, c, *shape).sum(axis=(3, 5))
    return (block / counts.reshape(shape).sum(axis=(1, 3))).astype(np.float32)


def sequence_views(sequences, alphabet: str, k: int, max_length: int | None):
    """(views, feature names) of a sequence dataset: ``onehot`` for deep learners, k-mer counts
    at the spec's k as ``tabular``, and ``kmer<j>`` counts for the smaller j that
    ``representations`` offers (together at most a third more than ``tabular`` for DNA)."""
    views = {"onehot": onehot(sequences, alphabet, max_length),
             "tabular": kmer_counts(sequences, alphabet, k)}
    for j in range(max(1, k - KMER_SIZES + 1), k):
        views[f"kmer{j}"] = kmer_counts(sequences, alphabet, j)
    return views, kmer_names(alphabet, k)


def image_views(images: np.ndarray):
    """(views, feature names) of an image dataset: the image, its flattened pixels (``tabular``)
    and ``pool<f>`` average-pooled images (a third of the image view's memory at most)."""
    image = image_view(images)
    flat = image.reshape(len(image), -1).astype(np.float64)
    views = {"image": image, "tabular": flat}
    for f in POOLS:
        if min(image.shape[2:]) >= MIN_POOLED * f:
            views[f"pool{f}"] = pooled(image, f)
    return views, [f"px{i}" for i in range(flat.shape[1])]


def _kmer_size(width: int, size: int) -> int:
    """The k of a k-mer view ``width`` = size**k columns wide."""
    k = 1
    while size**k < width:
        k += 1
    return k


def representations(modality: str, views: dict[str, np.ndarray]) -> dict[str, str]:
    """The flat representations a classical learner may read: name -> view (read flattened).

    Sequences: ``kmer<j>`` counts (the spec's k reads ``tabular``) and ``onehot``, the one-hot
    sequence flattened position by position (positions the k-mer counts discard; padding is
    zeros). Images: ``pixels`` (``tabular``) and ``pool<f>``. Tabular data: none, so its search
    spaces and results do not change.
    """
    if modality == "sequence":
        k = _kmer_size(views["tabular"].shape[1], views["onehot"].shape[2])
        kmers = {f"kmer{j}": f"kmer{j}" for j in range(1, k) if f"kmer{j}" in views}
        return {**kmers, f"kmer{k}": "tabular", "onehot": "onehot"}
    if modality == "image":
        return {"pixels": "tabular", **{name: name for name in views if name.startswith("pool")}}
    return {}


LABELS = {"onehot": "one-hot sequence (flattened)", "pixels": "flat pixels"}


def label(representation: str) -> str:
    """Words for a representation name, for reports: ``kmer3`` -> ``3-mer counts``."""
    if representation.startswith("kmer"):
        return f"{representation[4:]}-mer counts"
    if representation.startswith("pool"):
        f = representation[4:]
        return f"{f}x{f} average-pooled pixels"
    return LABELS.get(representation, representation)
