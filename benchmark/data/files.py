"""User files: CSV/TSV (optionally gzipped), Parquet and .npz images, plus their checksums."""
from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import lzma
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
            ".npz": "npz"}
SPLIT_PREFIXES = ("train", "val", "test")  # MedMNIST-style npz files
SEPARATORS = {"csv": ",", "tsv": "\t"}
SEPARATOR_NAMES = {",": "commas", "\t": "tabs", ";": "semicolons", "|": "pipes"}
# What a damaged file raises while it is read: a cut gzip stream (EOFError), a file that is not
# gzip at all (BadGzipFile, an OSError), a broken deflate block (zlib.error), a bad zip (.npz).
READ_ERRORS = (OSError, EOFError, ValueError, KeyError, zlib.error, zipfile.BadZipFile)


def infer_format(path: Path) -> str | None:
    """csv/tsv/parquet/npz from the suffix, looking through a trailing .gz."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return SUFFIXES.get(suffixes[-1]) if suffixes else None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_arrays(arrays: dict[str, np.ndarray]) -> str:
    """Checksum of named arrays (names, dtypes, shapes and values), for data made in memory."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.asarray(arrays[name])
        if a.dtype == object or a.dtype.kind in "UST":
            kind, payload = "text", "\x00".join(map(str, a.ravel())).encode()
        else:
            kind, payload = a.dtype.str, np.ascontiguousarray(a).tobytes()
        h.update(f"{name}|{kind}|{a.shape}|".encode())
        h.update(payload)
    return h.hexdigest()


def sha256_frame(frame: pd.DataFrame) -> str:
    return sha256_arrays({str(c): frame[c].to_numpy() for c in frame.columns})


def read_table(path: Path, fmt: str) -> pd.DataFrame:
    """A table through pandas (compression inferred from the suffix) or pyarrow for Parquet."""
    if fmt == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")


OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
OTHER_COMPRESSION = {".zip", ".zst", ".tar"}  # pandas reads these; the header check skips them


def first_line(path: Path) -> str | None:
    """The header line of a text table, read without pandas (which renames repeated names);
    None for a compression read only through pandas."""
    suffix = Path(path).suffix.lower()
    if suffix in OTHER_COMPRESSION:
        return None
    with OPENERS.get(suffix, open)(path, "rt", encoding="utf-8-sig", newline="") as fh:
        return fh.readline().rstrip("\r\n")


def header(line: str, fmt: str) -> list[str]:
    """The column names of a CSV/TSV header line, as pandas would split them."""
    return next(csv.reader([line], delimiter=SEPARATORS[fmt]), [])


def repeated_names(names: list[str]) -> dict[str, list[int]]:
    """Names that occur more than once -> their 1-based column positions."""
    counts = Counter(names)
    return {n: [i + 1 for i, m in enumerate(names) if m == n] for n in names if counts[n] > 1}


def other_separator(line: str, fmt: str) -> str | None:
    """The separator a header line seems to use when it is not the format's own: a "CSV" whose
    first line holds semicolons or tabs but no comma is read by pandas as one single column."""
    if SEPARATORS[fmt] in line:
        return None
    return next((sep for sep in SEPARATOR_NAMES if sep != SEPARATORS[fmt] and sep in line), None)


def damaged(exc: BaseException) -> bool:
    """Whether a read failed on the bytes themselves (cut short, not the compression it claims)."""
    return isinstance(exc, (EOFError, gzip.BadGzipFile, zlib.error, zipfile.BadZipFile))


def read_error(exc: BaseException) -> str:
    """One line saying why a file could not be read, in words rather than a library's."""
    if isinstance(exc, EOFError):
        return "the compressed data ends early: the file is truncated or corrupt"
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
        return f"the file is not valid gzip data ({exc})"
    if isinstance(exc, zipfile.BadZipFile):
        return f"the file is not a valid .npz (zip) archive ({exc})"
    if isinstance(exc, pd.errors.EmptyDataError):
        return "the file is empty: no header, no rows"
    if isinstance(exc, UnicodeDecodeError):
        return f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _pick(arrays, names: tuple[str, ...]):
    for name in names:
        if name in arrays:
            return np.asarray(arrays[name])
    return None


def npz_splits(path: Path) -> dict[str, int]:
    """Images per part of a MedMNIST-style file's own split (train/val/test), {} otherwise."""
    with np.load(path, allow_pickle=False) as arrays:
        if "x" in arrays or "images" in arrays:
            return {}
        return {p: len(arrays[f"{p}_images"]) for p in SPLIT_PREFIXES if f"{p}_images" in arrays}


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) from ``x``/``images`` and ``y``/``labels``.

    MedMNIST-style files with ``train_images``/``val_images``/``test_images`` (and ``*_labels``)
    are concatenated in that order: the file's split is merged (and stated as such, see
    :func:`npz_splits`), since the harness makes its own split plan so that every learner sees
    the same one.
    """
    with np.load(path, allow_pickle=False) as arrays:
        images, labels = _pick(arrays, ("x", "images")), _pick(arrays, ("y", "labels"))
        if images is None:
            parts = [p for p in SPLIT_PREFIXES if f"{p}_images" in arrays]
            if parts:
                images = np.concatenate([arrays[f"{p}_images"] for p in parts])
                labels = np.concatenate([np.asarray(arrays[f"{p}_labels"]).reshape(-1) for p in parts])
        keys = sorted(arrays.files)
    if images is None or labels is None:
        raise KeyError(f"needs arrays x (or images) and y (or labels); found {keys}")
    labels = labels.reshape(len(labels), -1)
    if len(labels) != len(images):
        raise KeyError(f"needs one label per image: {len(images)} images, {len(labels)} labels")
    if labels.shape[1] != 1:
        raise KeyError(f"labels must hold one label per image, got shape {labels.shape}")
    return images, labels[:, 0]
