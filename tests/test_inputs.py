"""Bad input is refused before any compute with one message that names the thing, the rule, the
value and the fix; every change loading makes to the data, and every value that looks like a
code for "missing", is reported, never silent. Real files in tmp_path throughout."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import ROOT, cli, write_dataset, write_study

from benchmark.checks import failures
from benchmark.data import check_spec, load_dataset, load_spec, views
from benchmark.data.sentinels import sentinel_findings
from benchmark.errors import ConfigError
from benchmark.report import provenance
from benchmark.runner import prepare


def dataset(folder, name: str, frame: pd.DataFrame | None = None, text: str | None = None,
            suffix: str = "csv", **spec) -> str:
    """A dataset YAML next to its data file (a frame written as CSV, or raw text)."""
    return write_dataset(folder, name, frame, text=text, suffix=suffix, **spec).name


def two_class(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n),
                         "label": ["a", "b"] * (n // 2)})


def problems(study) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        prepare(str(study))
    return [str(p) for p in exc.value.problems]


def only(lines: list[str], where: str) -> str:
    found = [line for line in lines if where in line]
    assert len(found) == 1, f"{where}: {found or lines}"
    return found[0]


# ---------------------------------------------------------------- issue 12: inputs

def test_inf_in_features_and_target_names_columns_and_rows(tmp_path):
    frame = two_class()
    frame.loc[[1, 2], "x"] = np.inf
    frame.loc[3, "z"] = -np.inf
    reg = two_class().assign(label=np.linspace(0, 1, 40))
    reg.loc[4, "label"] = np.inf
    study = write_study(tmp_path, [dataset(tmp_path, "feat", frame),
                                   dataset(tmp_path, "targ", reg, task="regression")], ["logreg"])
    lines = problems(study)
    feat = only(lines, "feat.yaml: features")
    assert "must be finite" in feat and "x: 2, z: 1" in feat and "Fix:" in feat and "drop:" in feat
    targ = only(lines, "targ.yaml: target")
    assert "1 of 40 rows are inf or -inf" in targ and "Fix:" in targ


def test_repeated_column_names_are_refused_by_name(tmp_path):
    text = "x,z,x,label\n" + "".join(f"{i},{i % 3},{-i},{'ab'[i % 2]}\n" for i in range(40))
    study = write_study(tmp_path, [dataset(tmp_path, "dup", text=text)], ["logreg"])
    line = only(problems(study), "dup.yaml: source.path")
    assert "must be unique" in line and "'x' at columns 1, 3" in line and "Fix:" in line


def test_repeated_column_names_in_a_gzipped_tsv(tmp_path):
    text = "x\tx\tlabel\n" + "".join(f"{i}\t{i}\t{'ab'[i % 2]}\n" for i in range(20))
    (tmp_path / "dup.tsv.gz").write_bytes(gzip.compress(text.encode()))
    path = tmp_path / dataset(tmp_path, "dup", suffix="tsv.gz")
    with pytest.raises(ConfigError, match="'x' at columns 1, 2"):
        load_dataset(load_spec(path))


def test_truncated_gzip_is_one_clear_line(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(3000, 5)), columns=list("abcde"))
    frame["label"] = ["a", "b"] * 1500
    frame.to_csv(tmp_path / "full.csv.gz", index=False)
    whole = (tmp_path / "full.csv.gz").read_bytes()
    (tmp_path / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "junk.csv.gz").write_bytes(b"not gzip at all\n" * 4)
    study = write_study(tmp_path, [dataset(tmp_path, "cut", suffix="csv.gz"),
                                   dataset(tmp_path, "junk", suffix="csv.gz")], ["logreg"])
    lines = problems(study)
    assert "truncated or corrupt" in only(lines, "cut.yaml: source.path")
    assert "not valid gzip" in only(lines, "junk.yaml: source.path")
    assert all("Fix: copy or download the file again" in line for line in lines)


def test_header_only_file_says_no_rows_and_nothing_else(tmp_path):
    study = write_study(tmp_path, [dataset(tmp_path, "empty", text="x,z,label\n")], ["logreg"])
    (line,) = problems(study)
    assert "empty.yaml: source.path" in line and "no rows" in line and "Fix:" in line


def test_other_separators_get_a_hint(tmp_path):
    semi = dataset(tmp_path, "semi", text="x;z;label\n" + "1;2;a\n" * 20)
    tabs = dataset(tmp_path, "tabs", text="x\tz\tlabel\n" + "1\t2\ta\n" * 20)
    commas = dataset(tmp_path, "commas", text="x,z,label\n" + "1,2,a\n" * 20, suffix="tsv")
    lines = problems(write_study(tmp_path, [semi, tabs, commas], ["logreg"]))
    assert len(lines) == 3, lines  # not also "target must name a column" and the like
    assert "holds semicolons and no comma" in only(lines, "semi.yaml: source.format")
    assert "source.format: tsv" in only(lines, "tabs.yaml: source.format")
    assert "source.format: csv" in only(lines, "commas.yaml: source.format")


def test_dataset_paths_start_at_the_study_file_only(tmp_path, monkeypatch):
    (tmp_path / "studies" / "sets").mkdir(parents=True)
    dataset(tmp_path / "studies" / "sets", "mine", two_class())
    study = write_study(tmp_path / "studies", ["sets/mine.yaml", "datasets/breast_cancer.yaml"],
                        ["logreg"])
    monkeypatch.chdir(ROOT)  # where datasets/breast_cancer.yaml exists: it must play no part
    (line,) = problems(study)
    # datasets/breast_cancer.yaml exists in the project, but not next to this study
    assert "datasets[1]" in line and "starts at the study file's folder" in line
    assert str(tmp_path / "studies" / "datasets" / "breast_cancer.yaml") in line
    study = write_study(tmp_path / "studies", ["sets/mine.yaml"], ["logreg"])
    assert list(prepare(str(study)).datasets) == ["mine"]


def test_empty_dataset_list_says_so(tmp_path):
    (line,) = problems(write_study(tmp_path, [], ["logreg"]))
    assert "tiny.yaml: datasets" in line and "the list is empty" in line and "Fix:" in line


def test_unknown_bundled_dataset_names_study_and_entry(tmp_path):
    (line,) = problems(write_study(tmp_path, ["breast_cancer", "breast_cancr"], ["logreg"]))
    assert line.startswith(f"{tmp_path / 'tiny.yaml'}: datasets[1]")
    assert "'breast_cancr'" in line and "did you mean breast_cancer?" in line


def test_search_space_errors_carry_a_fix(tmp_path):
    (tmp_path / "svm.yaml").write_text(
        "learner: svm\nsource: t\nparams:\n  C: {type: float, low: 0, high: 10, log: true}\n"
        "  gamma: {type: float, low: 5, high: 1}\n  kernel: {type: categorical, choices: []}\n"
        "  degree: {type: int, low: 2}\n  tol: {type: float, low: 0.1, high: 1, log: true, step: 0.1}\n")
    study = write_study(tmp_path, ["breast_cancer"], ["svm"], extra="spaces: {svm: svm.yaml}\n")
    lines = problems(study)
    assert len(lines) == 5 and all("Fix:" in line for line in lines), lines
    assert "swap low and high" in only(lines, "params.gamma")


def test_unquoted_number_for_a_text_key_says_to_quote_it(tmp_path):
    path = tmp_path / dataset(tmp_path, "d", two_class().assign(label=[0, 1] * 20), positive=1)
    with pytest.raises(ConfigError, match=r'positive: .*Fix: write it in quotes: "1"'):
        load_spec(path)


def test_every_input_problem_at_once_on_the_command_line(tmp_path):
    frame = two_class()
    frame.loc[0, "x"] = np.inf
    study = write_study(tmp_path, [dataset(tmp_path, "inf", frame),
                                   dataset(tmp_path, "empty", text="x,label\n"),
                                   dataset(tmp_path, "semi", text="x;label\n1;a\n"),
                                   "nope"], ["logreg"])
    res = cli("validate", str(study))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.startswith("4 problems found before any compute started:"), res.stderr
    for where in ("inf.yaml: features", "empty.yaml: source.path", "semi.yaml: source.format",
                  "datasets[3]"):
        assert where in res.stderr


# ---------------------------------------------------------------- issue 11: data that speaks

def notes_of(data, topic: str) -> dict:
    (found,) = [n for n in data.notes if n["topic"] == topic]
    return found


def test_letters_outside_the_alphabet_are_counted_and_their_encoding_said(tmp_path):
    sequences = ["ACGTNACGTA", "ACGRRACGTA", "acgtacgtSD", "ACGTACGTAC"] * 5
    frame = pd.DataFrame({"seq": sequences, "label": ["a", "b"] * 10})
    path = tmp_path / dataset(tmp_path, "dna", frame, modality="sequence",
                              sequence={"column": "seq", "alphabet": "dna", "k": 3})
    data = load_dataset(load_spec(path))
    letters = notes_of(data, "letters")
    assert letters["level"] == "warning"
    assert letters["numbers"]["letters"] == {"N": 5, "R": 10, "S": 5, "D": 5}
    assert letters["numbers"]["sequences"] == 15
    # an unknown letter is an all-zero one-hot row, and the k-mer windows holding one are skipped
    assert (data.views["onehot"].sum(axis=2) == 0).sum() == 25
    assert letters["numbers"]["windows"] == 20 * 8
    skipped = sum(sum(not set(s[j:j + 3].upper()) <= set("ACGT") for j in range(8)) for s in sequences)
    assert letters["numbers"]["windows_skipped"] == skipped == 5 * (3 + 4 + 2)
    counts = views.kmer_counts(sequences, "dna", 3)
    assert counts.sum() == pytest.approx((160 - skipped) / 8)  # frequencies over all 8 windows
    assert "N: 5" in letters["text"] and "all-zero row" in letters["text"]
    assert notes_of(data, "lowercase")["numbers"]["letters"] == 40


def test_duplicates_exact_and_conflicting_are_counted(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=30), "z": rng.normal(size=30),
                          "label": ["a", "b"] * 15})
    frame.loc[10] = [*frame.loc[0, ["x", "z"]], "a"]  # same features, same label as row 0
    frame.loc[11] = [*frame.loc[0, ["x", "z"]], "b"]  # ... a different label
    frame.loc[13] = [*frame.loc[12, ["x", "z"]], "b"]  # row 12 is "a": a second conflict
    path = tmp_path / dataset(tmp_path, "dups", frame)
    data = load_dataset(load_spec(path))
    assert notes_of(data, "duplicates")["numbers"] == {"rows": 1}
    assert notes_of(data, "conflicts")["numbers"] == {"groups": 2, "rows": 5}
    assert notes_of(data, "rows")["text"] == "30 rows read, 30 used: none dropped"
    assert data.n_samples == 30  # reported, not removed


def test_duplicate_sequences_with_different_labels(tmp_path):
    frame = pd.DataFrame({"seq": ["ACGTAC", "acgtac", "TTTTTT", "GGGGGG"] * 3,
                          "label": ["a", "b", "a", "a"] * 3})
    path = tmp_path / dataset(tmp_path, "seqs", frame, modality="sequence",
                              sequence={"column": "seq", "alphabet": "dna", "k": 2})
    data = load_dataset(load_spec(path))
    assert notes_of(data, "conflicts")["numbers"] == {"groups": 1, "rows": 6}
    assert notes_of(data, "duplicates")["numbers"] == {"rows": 12 - 4}


def heart(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """A clinical table with the codes real ones carry: ca = 9 for unknown (the rest 0-3),
    cholesterol 0 in many rows, one blood pressure of 0, a BMI filled in with its mean."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    return pd.DataFrame({
        "age": rng.integers(29, 78, n),
        "trestbps": np.where(i == 7, 0, rng.normal(131, 17, n).round().clip(94, 200)),
        "chol": np.where(i % 5 == 0, 0, rng.normal(246, 50, n).round().clip(126, 564)),
        "ca": np.where(i % 60 == 1, 9, rng.integers(0, 4, n)),
        "bmi": np.where(i % 6 == 2, 27.85, rng.normal(28, 5, n).round(1).clip(16, 50)),
        "grade": rng.integers(0, 4, n),  # 0 is an ordinary grade
        "visits": rng.poisson(1.5, n),  # so is 0 visits
        "expr": np.log2(rng.poisson(8, n) + 1.0),  # computed: its zeros are values
        "label": np.where(rng.random(n) < 0.5, "disease", "healthy")})


def test_sentinels_in_a_clinical_table_are_warned_about_never_fixed(tmp_path):
    frame = heart()
    path = tmp_path / dataset(tmp_path, "heart", frame)
    data = load_dataset(load_spec(path))
    found = notes_of(data, "sentinels")
    assert found["level"] == "warning"
    got = {(f["column"], f["value"], f["rule"]): f["count"] for f in found["numbers"]["findings"]}
    assert got == {("trestbps", 0.0, "zero"): 1, ("chol", 0.0, "zero"): 60,
                   ("ca", 9.0, "code"): 5, ("bmi", 27.85, "spike"): 50}
    assert "'ca' = 9 in 5 rows, outside the range of the others, 0 to 3" in found["text"]
    column = data.feature_names.index("chol")
    np.testing.assert_array_equal(data.X[:, column], frame["chol"])  # the data is untouched


@pytest.mark.parametrize("values", [
    np.r_[np.zeros(10), np.random.default_rng(0).integers(1, 4, 90)],  # a grade 0-3
    np.random.default_rng(0).poisson(2, 100),  # counts
    np.log2(np.random.default_rng(0).poisson(6, 100) + 1.0),  # log-counts: computed
    np.r_[np.zeros(3), np.random.default_rng(0).uniform(0.002, 0.05, 200).round(6)],  # computed
    np.r_[np.full(60, 9), np.random.default_rng(0).integers(0, 4, 40)],  # 9 is the norm here
    np.r_[np.arange(0, 100), 99, 99],  # 99 inside the range
])
def test_ordinary_columns_raise_no_sentinel(values):
    assert sentinel_findings("c", pd.Series(values)) == []


def test_negative_codes_and_all_negative_columns():
    rng = np.random.default_rng(0)
    codes = pd.Series(np.r_[-999, -999, rng.integers(18, 90, 60)])
    assert [(f["value"], f["count"]) for f in sentinel_findings("age", codes)] == [(-999.0, 2)]
    negative = pd.Series(np.r_[0.0, -rng.normal(60, 8, 60).round()])
    assert [f["rule"] for f in sentinel_findings("deficit", negative)] == ["zero"]


def test_changes_on_load_reach_validate_and_the_report_profile(tmp_path):
    study = write_study(tmp_path, [dataset(tmp_path, "heart", heart())], ["logreg"])
    res = cli("validate", str(study))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "primary metric auroc (metric: auto; the smallest class" in out
    assert "! warning: implausible values" in out and "'chol' = 0 in 60 rows" in out
    assert "- 300 rows read, 300 used: none dropped" in out
    data = prepare(str(study)).datasets["heart"]
    rows = dict(provenance.profile("heart", data.profile()))
    assert "'ca' = 9 in 5 rows" in rows["data warnings"]
    assert rows["changes on load"].startswith("300 rows read")
    assert provenance.profile("old", {})[-1] == ("data warnings", provenance.MISSING)


def test_digits_and_images_say_how_pixels_were_scaled(tmp_path):
    digits = load_dataset("digits")
    assert "divided by 16" in notes_of(digits, "pixels")["text"]
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "imgs.npz", x=rng.integers(0, 256, (20, 9, 9, 3), dtype=np.uint8),
             y=np.arange(20) % 2)
    path = tmp_path / "imgs.yaml"
    path.write_text(yaml.safe_dump({"task": "binary", "modality": "image",
                                    "source": {"kind": "file", "path": "imgs.npz"}}))
    data = load_dataset(load_spec(path))
    assert notes_of(data, "pixels")["numbers"] == {"divided_by": 255.0}
    assert "(9, 9, 3)" in notes_of(data, "channels")["text"]


def test_long_sequences_cut_to_max_length_are_reported(tmp_path):
    frame = pd.DataFrame({"seq": ["ACGTACGTAC", "ACG"] * 10, "label": ["a", "b"] * 10})
    path = tmp_path / dataset(tmp_path, "cut", frame, modality="sequence",
                              sequence={"column": "seq", "alphabet": "dna", "k": 4, "max_length": 6})
    data = load_dataset(load_spec(path))
    assert notes_of(data, "truncated")["numbers"] == {"sequences": 10, "letters": 40}
    assert notes_of(data, "short")["numbers"] == {"sequences": 10}  # ACG has no 4-mer window


# ---------------------------------------------------------------- roles

def test_group_column_may_also_be_metadata(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "site": [f"s{i % 6}" for i in range(60)],
                          "label": ["a", "b"] * 30})
    path = tmp_path / dataset(tmp_path, "sites", frame, group="site", metadata=["site"])
    spec = load_spec(path)
    assert check_spec(spec) == []
    data = load_dataset(spec, n_folds=3)
    assert data.feature_names == ["x"]
    np.testing.assert_array_equal(data.groups, data.metadata["site"])
    pred = np.tile([0.3, 0.7], (60, 1))
    rows = failures.subgroup_rows("binary", "auroc", data.y, pred, data.metadata)
    assert sorted(r["subgroup"] for r in rows) == [f"s{i}" for i in range(6)]
    other = tmp_path / dataset(tmp_path, "bad", frame, group="site", drop=["site"])
    (problem,) = check_spec(load_spec(other))
    assert "['group', 'drop']" in str(problem)


def test_misspelt_keys_and_learners_get_the_name_they_were_meant_to_be(tmp_path):
    study = tmp_path / "s.yaml"
    study.write_text("name: s\ndatasets: [breast_cancer]\nlearners: [logreg, randomforest]\n"
                     "budgt: {trials: 3}\nsplits: {outer_fold: 2, repeats: 1}\n")
    with pytest.raises(ConfigError) as err:
        prepare(str(study))
    text = err.value.render()
    assert ("budgt: is not a key this file knows (got {'trials': 3}). Fix: remove or rename the "
            "key (did you mean budget?)") in text
    assert "splits.outer_fold: is not a key this file knows" in text
    assert "(did you mean outer_folds?)" in text and "(did you mean random_forest?)" in text
    assert "Extra inputs" not in text and len(err.value.problems) == 3
    other = tmp_path / "t.yaml"  # nothing close: no guess
    # nothing close, or close only to a key of another section (trials is budget's): no guess
    other.write_text("name: t\ndatasets: [breast_cancer]\nlearners: [logreg]\nzzz: 1\n"
                     "splits: {trial: 3}\n")
    with pytest.raises(ConfigError) as err:
        prepare(str(other))
    text = err.value.render()
    assert "zzz: is not a key this file knows (got 1). Fix: remove or rename the key\n" in text + "\n"
    assert "splits.trial: is not a key this file knows" in text and "did you mean" not in text
