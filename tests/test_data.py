"""The data layer: bundled datasets, generators, user files, validation, OpenML cache, real data."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pandas as pd
import pytest
import yaml

from benchmark.data import check_spec, load_dataset, load_spec, validate_dataset
from benchmark.data import generators, views
from benchmark.data.files import sha256_file
from benchmark.errors import ConfigError
from helpers import SHARED



def manifest(tmp_path: Path, name: str = "user", **fields) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def messages(exc: pytest.ExceptionInfo) -> list[str]:
    return [str(p) for p in exc.value.problems]


# ---------------------------------------------------------------- bundled datasets

@pytest.mark.parametrize("name, task, modality, shapes, n_classes", [
    ("breast_cancer", "binary", "tabular", {"tabular": (569, 30)}, 2),
    ("digits", "multiclass", "image", {"tabular": (1797, 64), "image": (1797, 1, 8, 8),
                                       "pool2": (1797, 1, 4, 4)}, 10),
    ("expression", "binary", "tabular", {"tabular": (120, 2000)}, 2),
    ("dna_motifs", "binary", "sequence", {"tabular": (500, 64), "onehot": (500, 120, 4),
                                          "kmer1": (500, 4), "kmer2": (500, 16)}, 2),
])
def test_bundled_datasets_load(name, task, modality, shapes, n_classes):
    spec = load_spec(name)
    assert spec.path.endswith(f"{name}.yaml") and spec.description and not spec.sensitive
    assert check_spec(spec) == []
    data = load_dataset(spec, n_folds=5)
    assert (data.task, data.modality, data.n_classes) == (task, modality, n_classes)
    assert {k: v.shape for k, v in data.views.items()} == shapes
    assert data.y.dtype == np.int64 and set(np.unique(data.y)) == set(range(n_classes))
    assert len(data.feature_names) == shapes["tabular"][1]
    assert re.fullmatch(r"[0-9a-f]{64}", data.sha256)
    assert data.provenance["source"] and data.provenance["version"]


def test_breast_cancer_classes_sorted_and_digits_scaled():
    assert load_dataset("breast_cancer").classes == ["benign", "malignant"]
    digits = load_dataset("digits")
    assert digits.classes == [str(i) for i in range(10)]
    image = digits.views["image"]
    assert image.dtype == np.float32 and image.min() == 0.0 and image.max() == 1.0
    np.testing.assert_allclose(digits.X, image.reshape(len(image), -1))


def test_generators_are_deterministic():
    for make in (generators.expression, generators.dna_motifs):
        pd.testing.assert_frame_equal(make(seed=3), make(seed=3))
        assert not make(seed=3).equals(make(seed=4))
    assert load_dataset("expression").sha256 == load_dataset("expression").sha256


def _batch_accuracy(batch_shift: float) -> float:
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline

    frame = generators.expression(batch_shift=batch_shift, seed=1)
    X = frame.drop(columns=["target", "batch"]).to_numpy()
    model = make_pipeline(SimpleImputer(), NearestCentroid())
    return cross_val_score(model, X, frame["batch"], cv=4).mean()


def test_expression_has_a_real_batch_shift():
    data = load_dataset("expression")
    assert 4 <= len(np.unique(data.groups)) <= 6
    assert 0 < np.isnan(data.X).mean() < 0.05
    assert _batch_accuracy(0.8) > 0.9  # batches are recognisable from expression alone
    assert _batch_accuracy(0.0) < 0.5  # ... because of the shift, not by accident


def test_dna_motifs_enriched_in_positives():
    data = load_dataset("dna_motifs")
    frame = generators.dna_motifs(**load_spec("dna_motifs").source.params)
    hit = frame["sequence"].str.contains("TATAAT|TTGACA|CAC.TG")
    positives = (frame["target"] == "motif").to_numpy()
    assert hit[positives].mean() > 3 * hit[~positives].mean()
    assert set(data.metadata["motif"]) == {"TATAAT", "TTGACA", "CACNTG", "decoy", "none"}
    lengths = frame["sequence"].str.len()
    assert lengths.min() >= 80 and lengths.max() <= 120 and lengths.nunique() > 10
    np.testing.assert_array_equal(data.views["onehot"].sum(axis=(1, 2)), lengths)


# ---------------------------------------------------------------- views

def test_sequence_views_pad_truncate_and_unknown_letters():
    x = views.onehot(["ACGN", "AC"], "dna")
    assert x.shape == (2, 4, 4) and x.dtype == np.float32
    assert x[0, 3].sum() == 0 and x[1, 2:].sum() == 0  # N and padding are zero rows
    assert views.onehot(["ACGTACGT"], "dna", max_length=3).shape == (1, 3, 4)
    counts = views.kmer_counts(["AAAC"], "dna", k=2)
    names = views.kmer_names("dna", 2)
    assert counts[0, names.index("AA")] == pytest.approx(2 / 3)
    assert counts[0, names.index("AC")] == pytest.approx(1 / 3)
    assert views.onehot(["MKV"], "protein").shape == (1, 3, 20)


def test_image_view_channels_last_and_8bit():
    images = np.full((5, 6, 7, 3), 255, dtype=np.uint8)
    x = views.image_view(images)
    assert x.shape == (5, 3, 6, 7) and x.dtype == np.float32 and x.max() == 1.0
    assert views.image_view(np.zeros((2, 1, 5, 5))).shape == (2, 1, 5, 5)


# ---------------------------------------------------------------- user files

def _user_frame(n: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": [f"s{i}" for i in range(n)], "site": [f"site{i % 5}" for i in range(n)],
        "tissue": rng.choice(["liver", "lung", "skin"], n), "sex": rng.choice(["F", "M"], n),
        "g1": rng.normal(size=n), "g2": rng.integers(0, 9, n),
        "label": np.where(np.arange(n) % 3 == 0, "case", "control")})


USER_FIELDS = dict(task="binary", target="label", drop=["id"], group="site", categorical=["tissue"],
                   metadata=["sex"], sensitive=True)


@pytest.mark.parametrize("filename", ["data.csv", "data.tsv.gz", "data.parquet"])
def test_user_files_round_trip(tmp_path, filename):
    frame = _user_frame()
    file = tmp_path / filename
    if filename.endswith(".parquet"):
        frame.to_parquet(file)
    else:
        frame.to_csv(file, sep="\t" if ".tsv" in filename else ",", index=False)
    spec = load_spec(manifest(tmp_path, source={"kind": "file", "path": filename}, **USER_FIELDS))
    assert spec.name == "user"
    data = load_dataset(spec, n_folds=5)
    assert data.feature_names == ["tissue", "g1", "g2"] and data.categorical == [0]
    assert data.X.shape == (30, 3) and set(data.X[:, 0]) == {0.0, 1.0, 2.0}
    np.testing.assert_allclose(data.X[:, 1], frame["g1"])
    assert data.classes == ["case", "control"] and data.y.sum() == 20
    assert list(data.groups) == list(frame["site"]) and list(data.metadata["sex"]) == list(frame["sex"])
    assert data.sensitive and data.sha256 == sha256_file(file)


def test_sha256_mismatch_names_file_and_both_hashes(tmp_path):
    _user_frame().to_csv(tmp_path / "data.csv", index=False)
    actual = sha256_file(tmp_path / "data.csv")
    path = manifest(tmp_path, source={"kind": "file", "path": "data.csv"},
                    provenance={"sha256": "0" * 64}, **USER_FIELDS)
    with pytest.raises(ConfigError) as exc:
        load_dataset(load_spec(path))
    (text,) = messages(exc)
    assert str(path) in text and "provenance.sha256" in text and "data.csv" in text
    assert "0" * 64 in text and actual in text
    ok = manifest(tmp_path, "ok", source={"kind": "file", "path": "data.csv"},
                  provenance={"sha256": actual}, **USER_FIELDS)
    assert load_dataset(load_spec(ok)).sha256 == actual


def test_npz_images_from_split_arrays(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "imgs.npz", train_images=rng.integers(0, 256, (20, 9, 9), dtype=np.uint8),
             train_labels=(np.arange(20) % 2)[:, None], test_images=np.zeros((6, 9, 9), np.uint8),
             test_labels=np.zeros((6, 1), int))
    path = manifest(tmp_path, task="binary", modality="image", source={"kind": "file", "path": "imgs.npz"})
    data = load_dataset(load_spec(path), n_folds=3)
    assert data.views["image"].shape == (26, 1, 9, 9) and data.X.shape == (26, 81)
    assert data.views["image"].max() <= 1.0 and data.classes == ["0", "1"]
    merged = [n for n in data.notes if n["topic"] == "split"]  # the file's split is stated
    assert merged and "train 20, test 6 images) was merged" in merged[0]["text"]


# ---------------------------------------------------------------- validation

def test_frame_problems_reported_together(tmp_path):
    path = manifest(tmp_path, task="binary", target="label", source={"kind": "file", "path": "x.csv"})
    spec = load_spec(path)
    frame = pd.DataFrame({"g1": [1.0, 2.0], "species": ["mouse", "rat"]})
    problems = [str(p) for p in validate_dataset(frame, spec)]
    assert len(problems) == 2
    assert all(text.startswith(f"{path}: ") for text in problems)
    assert "target" in problems[0] and "'label'" in problems[0]
    assert "categorical" in problems[1] and "species" in problems[1] and "drop:" in problems[1]


def test_load_reports_every_data_problem_at_once(tmp_path):
    frame = pd.DataFrame({"g1": np.arange(12.0), "note": ["x"] * 12,
                          "label": ["a"] * 6 + ["b"] * 3 + ["rare"] * 2 + [None]})
    frame.to_csv(tmp_path / "data.csv", index=False)
    path = manifest(tmp_path, task="multiclass", target="label", drop=["nope"],
                    source={"kind": "file", "path": "data.csv"})
    with pytest.raises(ConfigError) as exc:
        load_dataset(load_spec(path), n_folds=5)
    text = "\n".join(messages(exc))
    assert len(exc.value.problems) == 5, text
    assert all(m.startswith(f"{path}: ") for m in messages(exc))
    assert "drop" in text and "nope" in text
    assert "1 of 12 rows are missing" in text
    assert "class 'b' has 3 samples, fewer than the 5 folds" in text
    assert "class 'rare' has 2 samples" in text and "fewer folds or merge" in text
    assert "note" in text and "categorical:" in text


def test_single_class_and_task_mismatch(tmp_path):
    pd.DataFrame({"g": [1, 2, 3], "y": ["a", "a", "a"]}).to_csv(tmp_path / "one.csv", index=False)
    path = manifest(tmp_path, task="binary", target="y", source={"kind": "file", "path": "one.csv"})
    with pytest.raises(ConfigError, match="at least two classes"):
        load_dataset(load_spec(path))
    pd.DataFrame({"g": range(9), "y": list("abc") * 3}).to_csv(tmp_path / "three.csv", index=False)
    path = manifest(tmp_path, task="binary", target="y", source={"kind": "file", "path": "three.csv"})
    with pytest.raises(ConfigError, match="task: must match the target's 3 classes"):
        load_dataset(load_spec(path))


def test_validate_loaded_dataset_against_folds():
    problems = validate_dataset(load_dataset("breast_cancer"), n_folds=300)
    assert [p.value for p in problems] == ["malignant"]
    assert validate_dataset(load_dataset("expression"), n_folds=5) == []
    assert "groups" in str(validate_dataset(load_dataset("expression"), n_folds=10)[0])


def test_static_checks_all_at_once(tmp_path):
    path = manifest(tmp_path, task="binary", modality="sequence", categorical=["a"], drop=["a"],
                    source={"kind": "file", "path": "missing.xlsx", "loader": "digits"})
    problems = check_spec(load_spec(path))
    keys = sorted(p.where.split(": ", 1)[1] for p in problems)
    assert keys == ["drop", "sequence", "source.format", "source.loader", "source.path"]
    with pytest.raises(ConfigError) as exc:
        load_dataset(load_spec(path))
    assert len(exc.value.problems) == 5


def test_unknown_name_lists_bundled_datasets():
    with pytest.raises(ConfigError, match="breast_cancer"):
        load_spec("no_such_dataset")


# ---------------------------------------------------------------- OpenML cache

ARFF = """@RELATION tiny
@ATTRIBUTE f1 NUMERIC
@ATTRIBUTE color {red,green}
@ATTRIBUTE class {a,b}
@DATA
""" + "".join(f"{i / 2},{'red' if i % 3 else 'green'},{'ab'[i % 2]}\n" for i in range(12))


def _gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload))


def _openml_cache(root: Path, data_id: int = 4242) -> Path:
    """The files fetch_openml(data_home=root) keeps: the URL's path under openml/openml.org."""
    base = root / "openml" / "openml.org"
    url = "https://api.openml.org/data/v1/download/99/tiny.arff"
    description = {"id": str(data_id), "name": "tiny", "version": "1", "format": "ARFF",
                   "description": "tiny test set", "file_id": "99", "url": url, "status": "active",
                   "default_target_attribute": "class",
                   "md5_checksum": hashlib.md5(ARFF.encode()).hexdigest()}
    flags = {"is_ignore": "false", "is_row_identifier": "false", "number_of_missing_values": "0"}
    features = [{"index": "0", "name": "f1", "data_type": "numeric", "is_target": "false", **flags},
                {"index": "1", "name": "color", "data_type": "nominal", "is_target": "false",
                 "nominal_value": ["red", "green"], **flags},
                {"index": "2", "name": "class", "data_type": "nominal", "is_target": "true",
                 "nominal_value": ["a", "b"], **flags}]
    api = base / "api" / "v1" / "json" / "data"
    _gz(api / f"{data_id}.gz", json.dumps({"data_set_description": description}).encode())
    _gz(api / "features" / f"{data_id}.gz", json.dumps({"data_features": {"feature": features}}).encode())
    qualities = {"data_qualities": {"quality": [{"name": "NumberOfInstances", "value": "12.0"}]}}
    _gz(api / "qualities" / f"{data_id}.gz", json.dumps(qualities).encode())
    _gz(base / "data" / "v1" / "download" / "99" / "tiny.arff.gz", ARFF.encode())
    return root


@pytest.fixture
def offline(monkeypatch):
    """No network: any download attempt fails as it would on these machines."""
    import sklearn.datasets._openml as sk_openml

    def refuse(*args, **kwargs):
        raise URLError("network is unreachable")
    monkeypatch.setattr(sk_openml, "urlopen", refuse)


def test_openml_loads_from_cache_offline(tmp_path, offline):
    cache = _openml_cache(tmp_path / "cache")
    path = manifest(tmp_path, task="binary", source={"kind": "openml", "id": 4242, "cache_dir": "cache"})
    data = load_dataset(load_spec(path), n_folds=3)
    assert data.feature_names == ["f1", "color"] and data.categorical == [1]
    assert data.classes == ["a", "b"] and data.X.shape == (12, 2)
    assert data.provenance["openml_id"] == 4242 and data.provenance["cache"] == str(cache)


@pytest.mark.filterwarnings("ignore:A network error occurred")
def test_openml_not_cached_says_how_to_fill(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("BENCHMARK_OPENML_CACHE", str(tmp_path / "empty"))
    path = manifest(tmp_path, task="binary", source={"kind": "openml", "id": 31})
    with pytest.raises(ConfigError) as exc:
        load_dataset(load_spec(path))
    (text,) = messages(exc)
    assert "source.id" in text and "31" in text and str(tmp_path / "empty") in text
    assert "fetch_openml(data_id=31" in text and "BENCHMARK_OPENML_CACHE" in text


# ---------------------------------------------------------------- real data (optional)

def _shared(folder: str) -> Path:
    path = SHARED / folder
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def test_real_colon_alon_grouped_by_patient(tmp_path):
    folder = _shared("colon_alon")
    sha = json.loads((folder / "metadata.json").read_text())["files"]["data.csv.gz"]["sha256"]
    path = manifest(tmp_path, task="binary", target="target", group="patient_id",
                    drop=["tissue_code"],  # its sign is the class: a leak
                    source={"kind": "file", "path": str(folder / "data.csv.gz")},
                    provenance={"sha256": sha})
    data = load_dataset(load_spec(path), n_folds=5)
    assert data.X.shape == (62, 2000) and data.classes == ["normal", "tumor"]
    assert len(np.unique(data.groups)) == 40 and np.bincount(data.y).tolist() == [22, 40]


def test_real_hiv_protein_sequences(tmp_path):
    folder = _shared("hiv_v3_tropism")
    fields = dict(task="binary", target="target", modality="sequence",
                  sequence={"column": "sequence", "alphabet": "protein", "k": 2},
                  source={"kind": "file", "path": str(folder / "data.csv.gz")})
    with pytest.raises(ConfigError, match=r"\['id', 'y'\]"):  # y would leak the label
        load_dataset(load_spec(manifest(tmp_path, "leaky", **fields)))
    data = load_dataset(load_spec(manifest(tmp_path, drop=["id", "y"], **fields)), n_folds=5)
    assert data.views["onehot"].shape == (1351, 38, 20) and data.X.shape == (1351, 400)
    assert data.classes == ["R5", "X4"] and np.bincount(data.y).tolist() == [1151, 200]


def test_real_breastmnist_npz(tmp_path):
    folder = _shared("breastmnist")
    path = manifest(tmp_path, task="binary", modality="image",
                    source={"kind": "file", "path": str(folder / "breastmnist.npz")})
    data = load_dataset(load_spec(path), n_folds=5)
    assert data.views["image"].shape == (780, 1, 28, 28) and data.X.shape == (780, 784)


def _labelled(tmp_path, labels, **spec) -> Path:
    rng = np.random.default_rng(0)
    pd.DataFrame({"x": rng.normal(size=len(labels)), "label": labels}).to_csv(
        tmp_path / "d.csv", index=False)
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump({"name": "d", "task": "binary", "target": "label",
                                    "source": {"kind": "file", "path": "d.csv"}, **spec}))
    return path


def test_positive_class_is_scored_as_class_one(tmp_path):
    labels = ["healthy", "cancer"] * 10
    default = load_dataset(load_spec(_labelled(tmp_path, labels)), 2)
    assert default.classes == ["cancer", "healthy"]  # sorted: "healthy" would be positive
    chosen = load_dataset(load_spec(_labelled(tmp_path, labels, positive="cancer")), 2)
    assert chosen.classes == ["healthy", "cancer"]
    assert (chosen.y == (np.array(labels) == "cancer")).all()


def test_positive_must_be_a_label_of_a_binary_target(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_dataset(load_spec(_labelled(tmp_path, ["a", "b"] * 10, positive="tumour")), 2)
    assert "positive" in str(err.value) and "['a', 'b']" in str(err.value)


def test_label_note_says_when_positive_moved_a_class_last():
    from benchmark.data.notes import labels_note

    moved = labels_note(["1", "0"], "binary", "0")[0]["text"]
    assert moved.startswith("classes coded by sorted label, the positive class last (code = label): "
                            "0 = 1, 1 = 0; scored as positive: 0 (set by positive:)")
    plain = labels_note(["a", "b", "c"], "multiclass", None)[0]["text"]
    assert plain == "classes coded by sorted label (code = label): 0 = a, 1 = b, 2 = c"
