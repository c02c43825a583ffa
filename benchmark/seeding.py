"""Seeds derived from named axes (study seed, dataset, fold, learner, trial), never from a learner.

Deriving each seed from its coordinates makes a trial's randomness independent of scheduling
order, so a resumed or distributed run draws exactly what an uninterrupted local run draws.
"""
from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little") & 0x7FFFFFFF
