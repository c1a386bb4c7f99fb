"""Tests of the example data sets (houses, churn): determinism, CSV layout,
shards, missing values, types, label signal and the command line."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from tft_build.examples.exampledata import DATASETS, generate_lines, main, write_dataset

NAMES = sorted(DATASETS)
PARSE = {"int": int, "float": float, "string": str}


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def columns(name, rows):
    """{column name: list of fields} of header-less rows."""
    names = [c for c, _ in DATASETS[name].columns]
    return dict(zip(names, map(list, zip(*rows))))


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """{name: ({column: fields} of 3000 train rows, same of 1000 eval rows)}."""
    found = {}
    for name in NAMES:
        train, evaluation = write_dataset(name, tmp_path_factory.mktemp(name), 3000, 1000, seed=3)
        found[name] = (columns(name, read_rows(train)[1:]),
                       columns(name, read_rows(evaluation)[1:]))
    return found


@pytest.mark.parametrize("name", NAMES)
def test_same_arguments_give_identical_bytes(name, tmp_path):
    first = write_dataset(name, tmp_path / "a", 200, 50, seed=7, shards=2)
    second = write_dataset(name, tmp_path / "b", 200, 50, seed=7, shards=2)
    other = write_dataset(name, tmp_path / "c", 200, 50, seed=8, shards=2)
    assert [p.name for p in first] == ["train-00000-of-00002.csv",
                                      "train-00001-of-00002.csv", "eval.csv"]
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert all(a.read_bytes() != c.read_bytes() for a, c in zip(first, other))
    assert b"\r" not in first[0].read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_header_is_optional_and_changes_nothing_else(name, tmp_path):
    with_header = write_dataset(name, tmp_path / "h", 100, 30, seed=1)
    without = write_dataset(name, tmp_path / "n", 100, 30, seed=1, header=False)
    for a, b in zip(with_header, without):
        rows = read_rows(a)
        assert rows[0] == [c for c, _ in DATASETS[name].columns]
        assert rows[1:] == read_rows(b)
    assert len(read_rows(without[0])) == 100 and len(read_rows(without[1])) == 30


@pytest.mark.parametrize("name", NAMES)
def test_shards_split_the_train_rows_in_order(name, tmp_path):
    [single, single_eval] = write_dataset(name, tmp_path / "one", 101, 20, seed=5)
    *shards, sharded_eval = write_dataset(name, tmp_path / "three", 101, 20, seed=5, shards=3)
    parts = [read_rows(p)[1:] for p in shards]
    assert [len(p) for p in parts] in ([34, 33, 34], [34, 34, 33], [33, 34, 34])
    assert sum(parts, []) == read_rows(single)[1:]
    assert single_eval.read_bytes() == sharded_eval.read_bytes()


@pytest.mark.parametrize("name", NAMES)
def test_keys_are_unique_across_train_and_eval(name, samples):
    train, evaluation = samples[name]
    key = DATASETS[name].key
    keys = train[key] + evaluation[key]
    assert len(set(keys)) == len(keys) == 4000


@pytest.mark.parametrize("name", NAMES)
def test_missing_values_only_in_optional_columns_and_of_both_kinds(name, samples):
    train = samples[name][0]
    dataset = DATASETS[name]
    for column, _ in dataset.columns:
        fields = train[column]
        if column in dataset.optional:
            assert "" in fields and "NA" in fields, column
            assert 0.02 < sum(f in ("", "NA") for f in fields) / len(fields) < 0.08
        else:
            assert not any(f in ("", "NA") for f in fields), column


@pytest.mark.parametrize("name", NAMES)
def test_values_parse_as_their_types(name, samples):
    train = samples[name][0]
    for column, kind in DATASETS[name].columns:
        present = [f for f in train[column] if f not in ("", "NA")]
        values = [PARSE[kind](f) for f in present]
        if kind == "string":
            assert not any("," in f or '"' in f for f in present)
        assert len(values) == len(present)


def numeric(fields):
    return np.array([float(f) for f in fields])


def one_hot(fields):
    levels = sorted(set(fields))
    return np.array([[f == level for level in levels] for f in fields], float)


def test_houses_price_is_learnable():
    rows = [line.split(",") for line in generate_lines("houses", 3000, seed=1)]
    data = columns("houses", [r for r in rows if "" not in r and "NA" not in r])
    assert set(data["neighborhood"]) <= {"Riverside", "Old Town", "Hillcrest", "Harbor View",
                                         "Parkside", "Millbrook", "Westgate",
                                         "Station Quarter"}
    rooms, year = numeric(data["rooms"]), numeric(data["year_built"])
    assert rooms.min() >= 1 and rooms.max() <= 8 and year.min() >= 1900 and year.max() <= 2022
    assert np.corrcoef(rooms, numeric(data["area_m2"]))[0, 1] > 0.8
    features = np.column_stack([rooms, numeric(data["area_m2"]), year,
                                one_hot(data["garage"]), one_hot(data["neighborhood"])])
    price = numeric(data["price"])
    fit, *_ = np.linalg.lstsq(features, price, rcond=None)
    r2 = 1 - np.mean((price - features @ fit) ** 2) / price.var()
    assert r2 > 0.6


def churn_features(data):
    return np.column_stack([numeric(data["tenure_months"]), numeric(data["monthly_spend"]),
                            numeric(data["support_calls"]), one_hot(data["plan"]),
                            one_hot(data["region"])])


def test_churn_outcome_is_learnable(samples):
    train, evaluation = samples["churn"]
    outcomes = ("stayed", "downgraded", "left")
    labels = np.array([outcomes.index(o) for o in train["outcome"]])
    shares = np.bincount(labels, minlength=3) / labels.size
    assert np.allclose(shares, [0.60, 0.25, 0.15], atol=0.05)
    assert 0 <= numeric(train["tenure_months"]).min() and numeric(train["tenure_months"]).max() <= 72
    assert numeric(train["support_calls"]).max() <= 10
    # Linear discriminant analysis: class means, pooled covariance, priors.
    x, x_eval = churn_features(train), churn_features(evaluation)
    means = np.array([x[labels == k].mean(axis=0) for k in range(3)])
    precision = np.linalg.pinv(np.cov((x - means[labels]).T))
    scores = (x_eval @ precision @ means.T - 0.5 * np.sum(means @ precision * means, axis=1)
              + np.log(shares))
    truth = np.array([outcomes.index(o) for o in evaluation["outcome"]])
    accuracy = np.mean(scores.argmax(axis=1) == truth)
    assert accuracy > np.bincount(truth).max() / truth.size + 0.08


def test_command_line(tmp_path):
    run = subprocess.run([sys.executable, "-m", "tft_build.examples.exampledata", "churn",
                          "--out", str(tmp_path), "--train-rows", "40", "--eval-rows", "10",
                          "--no-header", "--shards", "2"],
                         capture_output=True, text=True, check=True)
    printed = run.stdout.splitlines()
    assert len(printed) == 3 and "eval.csv: 10 rows" in printed[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "eval.csv", "train-00000-of-00002.csv", "train-00001-of-00002.csv"]
    assert len(read_rows(tmp_path / "train-00000-of-00002.csv")) == 20


def test_help_names_both_data_sets_and_a_bad_name_is_an_error(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = capsys.readouterr().out
    assert all(f"{name}: " in help_text for name in NAMES)
    with pytest.raises(SystemExit) as error:
        main(["taxi", "--out", "unused"])
    assert error.value.code == 2
    assert "invalid choice: 'taxi'" in capsys.readouterr().err
