"""The Beam transform's helpers, without running a pipeline: batching, counting, digests, the label.

Like TFX's ``executor_utils_test.py``: each helper that the transform step
runs inside Beam is called here directly on small inputs.
"""

import csv

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from tensorflow.core.framework import node_def_pb2
from tensorflow.core.protobuf import saved_model_pb2

from tft_build.config.schema import columns_from_pairs
from tft_build.config.settings import Config
from tft_build.errors import ConfigError, DataError
from tft_build.generic.rowfilter import has_value
from tft_build.io import manifest
from tft_build.steps import batching, digests, transform

COLUMNS = columns_from_pairs([("name", "string"), ("when", "timestamp"), ("price", "float"), ("count", "int")])


class Counter:
    """A stand-in for a Beam counter: the sum of what was counted."""

    def __init__(self):
        self.value = 0

    def inc(self, n=1):
        self.value += n


def arrow_batch(**columns):
    return pa.RecordBatch.from_pydict({name: pa.array(values) for name, values in columns.items()})


def numbered(sizes):
    """Record batches of consecutive numbers, ``sizes`` rows each."""
    starts = np.cumsum([0, *sizes])
    return [pa.RecordBatch.from_pydict({"n": pa.array(range(start, start + size), pa.int64())})
            for start, size in zip(starts, sizes)]


def test_rechunked_cuts_fixed_size_batches_whatever_the_input_batches():
    first = list(batching.rechunked(numbered([3, 0, 5, 1, 7, 1]), 4))
    second = list(batching.rechunked(numbered([17]), 4))
    assert [b.num_rows for b in first] == [4, 4, 4, 4, 1]
    assert [b.column("n").to_pylist() for b in first] == [b.column("n").to_pylist() for b in second]
    assert sum((b.column("n").to_pylist() for b in first), []) == list(range(17))
    assert list(batching.rechunked(numbered([0, 0]), 4)) == []


def test_tft_batch_is_one_typed_value_per_row_and_column():
    batch = arrow_batch(
        name=["a", "b"], when=["2014-05-01 08:00:00 UTC", "2014-05-01 09:00:00 UTC"], price=[1.5, 2.25], count=[1, 2]
    )
    typed = batching.tft_batch(batch, COLUMNS)
    assert typed.schema.names == ["name", "when", "price", "count"]
    assert [f.type for f in typed.schema] == [
        pa.list_(pa.binary()), pa.list_(pa.binary()), pa.list_(pa.float32()), pa.list_(pa.int64())
    ]
    assert typed.to_pydict() == {
        "name": [[b"a"], [b"b"]],
        "when": [[b"2014-05-01 08:00:00 UTC"], [b"2014-05-01 09:00:00 UTC"]],
        "price": [[1.5], [2.25]],
        "count": [[1], [2]],
    }


def test_rows_without_a_label_are_counted_and_must_be_dropped(tmp_path):
    columns = columns_from_pairs([("price", "float", float("nan")), ("count", "int")])
    cfg = Config(project_dir=tmp_path, columns=columns, label="price")
    batch = arrow_batch(price=[1.0, float("nan"), 5.0], count=[1, 2, 3])
    counters = {name: Counter() for name in batching.COUNTERS}
    clean = batching.clean_rows(batch, cfg, lambda row: has_value(row["price"]), counters, "t.csv")
    assert clean.column("count").to_pylist() == [1, 3]
    assert {name: c.value for name, c in counters.items()} == {"read": 3, "dropped": 1, "bad": 0, "unlabeled": 1}
    with pytest.raises(DataError) as err:
        batching.clean_rows(batch, cfg, lambda row: True, None, "t.csv")
    assert str(err.value).startswith("t.csv: 1 row(s) without a label (price is missing) pass ")
    assert "generic.has_value(row['price'])" in str(err.value)


def test_columns_is_a_lazy_mapping_of_numpy_arrays():
    columns = batching.Columns(arrow_batch(price=[1.0, 3.0], count=[1, 2]))
    assert list(columns) == ["price", "count"] and len(columns) == 2
    assert isinstance(columns["price"], np.ndarray) and columns["price"].tolist() == [1.0, 3.0]
    assert columns["price"] is columns["price"]  # converted once
    with pytest.raises(KeyError):
        columns["missing"]


PRICED = columns_from_pairs([("price", "float"), ("count", "int")])


def test_clean_rows_keeps_what_the_filter_keeps_and_counts(tmp_path):
    cfg = Config(project_dir=tmp_path, columns=PRICED, label="count")
    batch = arrow_batch(price=[1.0, 3.0, 5.0], count=[1, 2, 3])
    counters = {name: Counter() for name in batching.COUNTERS}
    clean = batching.clean_rows(batch, cfg, lambda row: row["price"] > 2, counters)
    assert clean.column("count").to_pylist() == [2, 3]
    assert (counters["read"].value, counters["dropped"].value) == (3, 1)
    assert batching.clean_rows(batch, cfg, lambda row: True, None).num_rows == 3  # one bool for the batch


def test_a_failing_filter_is_a_one_line_error_naming_the_setting(tmp_path):
    def broken(row):
        raise ValueError("no such ride")

    with pytest.raises(ConfigError, match="setting 'row_filter'.*raised ValueError: no such ride"):
        batching.clean_rows(arrow_batch(price=[1.0]), Config(project_dir=tmp_path, columns=PRICED[:1], label="price"),
                            broken, None)


@pytest.mark.parametrize("answer, message", [
    (lambda row: row["price"] * 2, "returned float64 values, not booleans"),
    (lambda row: row["count"], "returned int64 values, not booleans"),
    (lambda row: np.array([True, False]), "returned 2 values for 3 rows"),
])
def test_a_filter_must_answer_one_bool_per_row(tmp_path, answer, message):
    cfg = Config(project_dir=tmp_path, columns=PRICED, label="count")
    with pytest.raises(ConfigError, match=f"setting 'row_filter': .*{message}"):
        batching.clean_rows(arrow_batch(price=[1.0, 3.0, 5.0], count=[1, 2, 3]), cfg, answer, None)


def test_a_quarantine_line_is_one_csv_row_of_where_why_and_what():
    line = batching.quarantine_line("data/train.csv", 7, ["k1", "abc", "x,y"], 'fare_amount: "abc" is no float')
    assert "\n" not in line
    assert next(csv.reader([line])) == ["data/train.csv", "7", 'fare_amount: "abc" is no float', "k1,abc,x,y"]
    assert batching.QUARANTINE_HEADER.split(",") == ["file", "line", "error", "row"]


def test_drain_empties_the_list_into_the_bad_output_in_order():
    bad = ["one", "two"]
    out = list(batching.drain(bad))
    assert out == [(batching.BAD, "one"), (batching.BAD, "two")]
    assert bad == []


def write_csv(path, rows):
    path.write_text("name,when,price,count\n" + "".join(f"{row}\n" for row in rows))
    return str(path)


def test_read_clean_batches_quarantines_bad_rows_and_filters_when_counted(tmp_path, monkeypatch):
    monkeypatch.setattr(batching, "BATCH_ROWS", 2)
    counters = {name: Counter() for name in batching.COUNTERS}
    monkeypatch.setattr(batching, "split_counters", lambda split: counters)
    path = write_csv(tmp_path / "t.csv", [
        "a,2014-05-01 08:00:00 UTC,1.5,1",
        "b,2014-05-01 08:00:00 UTC,abc,2",
        "c,2014-05-01 08:00:00 UTC,0.5,3",
        "d,2014-05-01 08:00:00 UTC,2.5,4",
        "e,2014-05-01 08:00:00 UTC,3.5,5",
    ])
    cfg = Config(project_dir=tmp_path, columns=COLUMNS, label="count", on_bad_rows="skip")
    keep = lambda row: row["price"] >= 1  # noqa: E731
    out = list(batching.read_clean_batches(path, cfg, keep, "train", counted=True))
    bad = [o.value for o in out if isinstance(o, batching.beam.pvalue.TaggedOutput)]
    batches = [o for o in out if isinstance(o, pa.RecordBatch)]
    assert len(bad) == 1 and next(csv.reader(bad))[:2] == [path, "3"]
    assert [b.column("name").to_pylist() for b in batches] == [[[b"a"], [b"d"]], [[b"e"]]]
    assert {name: c.value for name, c in counters.items()} == {"read": 4, "dropped": 1, "bad": 1, "unlabeled": 0}

    uncounted = list(batching.read_clean_batches(path, cfg, keep, "train", counted=False))
    assert all(isinstance(o, pa.RecordBatch) for o in uncounted)
    assert [b.column("name").to_pylist() for b in uncounted] == [[[b"a"], [b"d"]], [[b"e"]]]
    assert {name: c.value for name, c in counters.items()} == {  # not again
        "read": 4, "dropped": 1, "bad": 1, "unlabeled": 0}


def test_split_counts_from_counter_values():
    values = {"train_read": 10, "train_dropped": 3, "train_bad": 1, "eval_read": 4}
    assert batching.split_counts(values, "train") == {"read": 10, "bad": 1, "dropped": 3, "kept": 7, "unlabeled": 0}
    assert batching.split_counts(values, "eval") == {"read": 4, "bad": 0, "dropped": 0, "kept": 4, "unlabeled": 0}
    assert batching.split_counts({}, "eval") == {"read": 0, "bad": 0, "dropped": 0, "kept": 0, "unlabeled": 0}


def counts(read, bad=0, dropped=0):
    return {"read": read, "bad": bad, "dropped": dropped, "kept": read - dropped}


@pytest.mark.parametrize(
    "train, message",
    [
        (counts(0, bad=2), r"a\.csv, b\.csv: all 2 rows are malformed"),
        (counts(0), r"a\.csv, b\.csv: no data rows"),
        (counts(5, dropped=5), r"a\.csv, b\.csv: all 5 rows were dropped by the row filter"),
    ],
)
def test_an_empty_split_is_an_error_naming_its_files(train, message):
    files = {"train": ["a.csv", "b.csv"], "eval": ["e.csv"]}
    with pytest.raises(DataError, match=message):
        batching.check_counts({"train": train, "eval": counts(3)}, files)
    batching.check_counts({"train": counts(5, bad=1, dropped=4), "eval": counts(3)}, files)


def test_encode_digests_the_records_it_writes(tmp_path):
    batch = batching.tft_batch(arrow_batch(name=["a", "b", "c"], price=[1.0, 2.0, 3.0]), COLUMNS[::2])
    data, digest = digests.encode((batch, None))
    (tmp_path / "r.tfrecord").write_bytes(data)
    written = [r.numpy() for r in tf.data.TFRecordDataset(str(tmp_path / "r.tfrecord"))]
    assert len(written) == 3
    assert digest == manifest.records_digest(written)
    assert digest == manifest.records_digest(reversed(written))  # order does not count


def test_records_digest_file_is_named_by_the_split():
    assert digests.records_digest_file("/b/data", "eval") == "/b/data/eval.records.digest.json"


def write_tree(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return str(root)


def test_tree_digest_counts_relative_paths_and_contents_but_ignored_names(tmp_path):
    files = {"a.txt": "1", "sub/b.txt": "2", "fingerprint.pb": "random"}
    one = digests.tree_digest(write_tree(tmp_path / "one", files), ignore=("fingerprint.pb",))
    moved = digests.tree_digest(write_tree(tmp_path / "x" / "two", {**files, "fingerprint.pb": "other"}),
                                ignore=("fingerprint.pb",))
    assert one == moved
    assert one != digests.tree_digest(write_tree(tmp_path / "three", {**files, "sub/b.txt": "3"}), ("fingerprint.pb",))
    assert one != digests.tree_digest(write_tree(tmp_path / "four", {"a.txt": "1", "sub/c.txt": "2"}))


def write_saved_model(data, nodes, functions):
    """A SavedModel proto with ``nodes`` in its graph and ``functions`` (name -> node names) in its library."""
    model = saved_model_pb2.SavedModel()
    graph = model.meta_graphs.add().graph_def
    for name in nodes:
        graph.node.add(name=name, op="Const").attr["value"].s = f"{data}/tmp/vocab_{name}".encode()
    for function_name, function_nodes in functions.items():
        function = graph.library.function.add()
        function.signature.name = function_name
        function.node_def.extend(node_def_pb2.NodeDef(name=n, op="Identity") for n in function_nodes)
    path = data / "transform_fn" / digests.SAVED_MODEL
    path.parent.mkdir(parents=True)
    path.write_bytes(model.SerializeToString())
    return str(data)


def test_canonical_graph_ignores_node_order_and_the_build_dir(tmp_path):
    one = digests.canonical_graph(write_saved_model(tmp_path / "one", ["b", "a"], {"f": ["y", "x"], "e": ["z"]}))
    other = digests.canonical_graph(write_saved_model(tmp_path / "two", ["a", "b"], {"e": ["z"], "f": ["x", "y"]}))
    assert one == other
    assert str(tmp_path) not in one and "/tmp/vocab_a" in one
    changed = digests.canonical_graph(write_saved_model(tmp_path / "three", ["a", "c"], {"e": ["z"], "f": ["x", "y"]}))
    assert changed != one


def test_canonical_graph_ignores_where_tf_counters_started(tmp_path):
    """A remote Beam worker's process has traced less than the local runner's: the same graph, its
    functions and captured inputs numbered from another offset; renumbered one to one, in order."""
    def graph(root, start):
        names = {f"__inference_f_{start + 9}": ["a_1"], f"__inference_g_{start}": ["a_1", f"in_{start + 4}"]}
        return digests.canonical_graph(write_saved_model(root, ["Const_2", "Const_1"], names))
    early = graph(tmp_path / "two", 998)
    assert graph(tmp_path / "one", 15498) == early
    assert "__inference_g_2" in early and "in_3" in early and "__inference_f_4" in early
    assert digests.renumbering('n_10 n_9 s: "12" x_1_y')('n_10 s: "12" x_1_y m_9') == 'n_1 s: "2" x_1_y m_0'


def test_sort_by_sorts_a_repeated_field_in_place():
    graph = saved_model_pb2.SavedModel().meta_graphs.add().graph_def
    for name in ("c", "a", "b"):
        graph.node.add(name=name)
    digests.sort_by(graph.node, lambda node: node.name)
    assert [node.name for node in graph.node] == ["a", "b", "c"]


def config(tmp_path, **settings):
    return Config(project_dir=tmp_path, label="fare", preprocessing_fn="mine:preprocessing_fn", **settings)


def test_the_preprocessing_fn_must_return_the_label(tmp_path):
    checked = transform.checked_preprocessing_fn(config(tmp_path), lambda inputs, cfg: {"x": inputs["x"]})
    with pytest.raises(ConfigError, match=r"mine:preprocessing_fn returned no label 'fare' \(it returned x\)"):
        checked({"x": tf.constant([1.0])})


def test_a_regression_label_becomes_float32_and_the_features_stay(tmp_path):
    checked = transform.checked_preprocessing_fn(config(tmp_path), lambda inputs, cfg: dict(inputs))
    outputs = checked({"fare": tf.constant([3, 4], tf.int64), "x": tf.constant([1.0, 2.0])})
    assert outputs["fare"].dtype == tf.float32 and outputs["fare"].numpy().tolist() == [3.0, 4.0]
    assert outputs["x"].numpy().tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "objective, label, message",
    [
        ("regression", tf.constant([[1.0]]), "must be one value per row"),
        ("regression", tf.constant(["a"]), "the regression label 'fare' must be a number"),
        ("classification", tf.constant([1.0]), "the class label 'fare' must be text or integers, not floats"),
    ],
)
def test_a_label_the_models_cannot_learn_is_a_config_error(tmp_path, objective, label, message):
    with pytest.raises(ConfigError, match=message):
        transform.label_target(config(tmp_path, objective=objective), label)


def test_identity_fn_passes_every_column_unchanged():
    inputs = {"a": tf.constant([1.0, 2.0]), "b": tf.constant(["x", "y"])}
    outputs = transform.identity_fn(inputs)
    assert sorted(outputs) == ["a", "b"]
    assert outputs["a"].numpy().tolist() == [1.0, 2.0] and outputs["b"].numpy().tolist() == [b"x", b"y"]


def test_plain_values_for_the_sample():
    assert transform.plain(b"caf\xc3\xa9") == "café"
    assert transform.plain(1 / 3) == 0.333333
    assert transform.plain(7) == 7
