"""Build a dataset whose licence does not let the project redistribute it, from its public source.

    python datasets/external/build.py colon_alon         # or hiv_v3_tropism, amp_iamp2l
    python datasets/external/build.py colon_alon --from DIR   # source files already at hand

Downloads the source files at the pinned commit (or reads them from DIR, plain or .gz), refuses
any whose sha256 differs from the one recorded here, and writes ``<name>.csv`` beside this
script: the dataset YAML of the same name reads it and checks its sha256 in turn. Standard
library, numpy and pandas only.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
GITHUB = "https://raw.githubusercontent.com"
SOURCES = {
    "colon_alon": (f"{GITHUB}/lata1207/DMD_Clustering/7d5dd7e591a3751b36230db3fb471634144de277", {
        "I2000.txt": "92a03c4b9c0e42acd1cdc0ccc10203529806364bf8fb5a769e04e03c5777c8fd",
        "tissue.txt": "716355bf5860d959c08755e2656700bf5a5e9c2674ac18287df72a5893f00086"}),
    "hiv_v3_tropism": (f"{GITHUB}/spaenigs/peptidereactor/17efcb993505934f5b9c2d63f5cc040bb244dde9/data/hiv_v3", {
        "seqs.fasta": "2ac91a34871df00a3704d73d30a8cd1e6dd18fa49eeaca85b15d6b249f1c7e3b",
        "classes.txt": "40fe088e1e03fbdfdb95108307460f925500e5194b65ed8b9616c7a221849129"}),
    "amp_iamp2l": (f"{GITHUB}/spaenigs/peptidereactor/17efcb993505934f5b9c2d63f5cc040bb244dde9/data/amp_iamp2l", {
        "seqs.fasta": "b08d5b22c84830f6233f28ddb63d7169c2bd1fa3133c266e33a38df62a212786",
        "classes.txt": "69ddbcccae2fa4f0df6093f284b9b7aa87fddc630d0eeb2bc5a2671c6aa2dc76"}),
}
# classes.txt codes -> names. HIV: the source's README says 0 = X4, but its data say 1 = X4 (far
# more 11/25-rule positives and a higher net charge in class 1, the known X4 signature).
CLASSES = {"hiv_v3_tropism": {0: "R5", 1: "X4"}, "amp_iamp2l": {0: "non_AMP", 1: "AMP"}}


def fetch(name: str, source: Path | None) -> dict[str, bytes]:
    """Each source file's bytes, checked against its recorded sha256."""
    base, files = SOURCES[name]
    out = {}
    for file, sha in files.items():
        if source is None:
            data = urllib.request.urlopen(f"{base}/{file}", timeout=60).read()
        else:
            plain, packed = source / file, source / f"{file}.gz"
            data = plain.read_bytes() if plain.exists() else gzip.decompress(packed.read_bytes())
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            sys.exit(f"{file}: sha256 {got} is not the recorded {sha}. Fix: fetch the file of the "
                     f"pinned commit ({base}/{file}), not another version")
        out[file] = data
    return out


def colon(raw: dict[str, bytes]) -> pd.DataFrame:
    """2000 genes x 62 tissues, transposed; the tissue code's sign is the class (negative: tumour)
    and its absolute value the patient, who may give a tumour and a normal sample."""
    x = np.array(raw["I2000.txt"].split(), dtype=float).reshape(2000, 62).T
    code = np.array(raw["tissue.txt"].split(), dtype=int)
    genes = pd.DataFrame(x, columns=[f"g{i:04d}" for i in range(1, 2001)])
    return pd.concat([pd.DataFrame({"patient_id": np.abs(code),
                                    "target": np.where(code < 0, "tumor", "normal")}), genes], axis=1)


def peptides(raw: dict[str, bytes], classes: dict[int, str]) -> pd.DataFrame:
    """FASTA records (id, sequence) with the class of the same line of classes.txt."""
    ids, seqs = [], []
    for line in raw["seqs.fasta"].decode().splitlines():
        if line.startswith(">"):
            ids.append(line[1:].strip())
            seqs.append("")
        elif line.strip():
            seqs[-1] += line.strip()
    codes = [int(c) for c in raw["classes.txt"].decode().split()]
    if len(codes) != len(ids):
        sys.exit(f"classes.txt has {len(codes)} labels for {len(ids)} sequences")
    return pd.DataFrame({"id": ids, "sequence": seqs, "target": [classes[c] for c in codes]})


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name", choices=sorted(SOURCES))
    p.add_argument("--from", dest="source", type=Path, help="a folder holding the source files")
    args = p.parse_args(argv)
    raw = fetch(args.name, args.source)
    frame = colon(raw) if args.name == "colon_alon" else peptides(raw, CLASSES[args.name])
    out = HERE / f"{args.name}.csv"
    frame.to_csv(out, index=False)
    print(f"{out}: {len(frame)} rows, sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
