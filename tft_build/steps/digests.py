"""What a Beam step's consumers depend on, as digests: of the records, and of the transform graph.

Training depends on the records, serving also on the transform_fn; each is a
small file (``layout.DATA_DIGEST``, ``layout.TRANSFORM_DIGEST``) that a
task's ``file_dep`` compares, so a rebuild that made the same records or the
same graph is no change downstream (early cutoff). The records are digested
in memory as they are encoded (:func:`encode`), never read back; the graph is
digested by its meaning (:func:`canonical_graph`), since TF saves the same
graph as different bytes in different processes.
"""

import hashlib
import json
import re
from collections.abc import Callable, Container, Iterable, MutableSequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow.core.protobuf import saved_model_pb2

from tft_build import layout
from tft_build.engine.trace import traced
from tft_build.errors import DataError
from tft_build.io import location, manifest, tfrecords

SAVED_MODEL = tf.saved_model.SAVED_MODEL_FILENAME_PB
SAVE_FINGERPRINT = "fingerprint.pb"  # TF writes a random id of each save into it
NAME_NUMBER = re.compile(r'(?<=_)\d+\b|(?<=s: ")\d+(?=")')  # where TF writes its counter in graph text


# The return hint's parts are quoted, which Beam reads as Any: Beam types a mapped function's output by its hints
# and would pick VarIntCoder for the 256-bit digest sums (an OverflowError where they are encoded).
def encode(transformed: tuple[pa.RecordBatch, Any]) -> tuple["bytes", "tuple[int, int]"]:
    """TFRecord bytes of one transformed ``(record batch, passthrough columns)`` pair, and their digest.

    The digest (:func:`manifest.records_digest`) is taken here, from the
    records in memory, so nothing is read back after writing.
    """
    batch, _ = transformed
    check_finite(batch)
    chunk = tfrecords.tfrecord_chunk(batch)
    return chunk.data, manifest.records_digest(chunk.records())


def check_finite(batch: pa.RecordBatch) -> None:
    """A one-line DataError when a transformed float feature is NaN or infinite in some row: the
    models would learn NaN from it, and a NaN model would replace a good one."""
    for name, values in zip(batch.schema.names, batch.columns):
        kind = values.type
        nested = pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
        flat = values.flatten() if nested else values
        if pa.types.is_floating(flat.type):
            bad = len(flat) - flat.null_count - pc.sum(pc.is_finite(flat)).as_py() if len(flat) else 0
            if bad:
                raise DataError(
                    f"the transformed feature '{name}' is NaN or infinite in {bad} row(s) of a batch: check what "
                    "preprocessing_fn computes for it (a log of 0, a division by zero, a value out of range)"
                )


def records_digest_file(data: str, split: str) -> str:
    """Where the pipeline writes the summed digest of ``split``'s records, in the data dir ``data``."""
    return location.join(data, f"{split}.{layout.RECORDS_DIGEST_SUFFIX}")


@traced
def write_digests(staging: Path, data: str, splits: Iterable[str]) -> None:
    """The digests consumers depend on, into ``staging``: the records of ``splits``, and the transform graph."""
    spec = tft.TFTransformOutput(data).transformed_feature_spec()
    digests = {"feature_spec": {name: repr(feature) for name, feature in sorted(spec.items())}}
    for split in splits:
        with tf.io.gfile.GFile(records_digest_file(data, split)) as f:
            digests[split] = json.loads(f.read())
    (staging / layout.DATA_DIGEST).write_text(manifest.to_json(digests), encoding="utf-8")
    # saved_model.pb counts by its meaning (canonical_graph), not its bytes.
    graph = {
        part: tree_digest(location.join(data, part), ignore=(SAVE_FINGERPRINT, SAVED_MODEL))
        for part in (tft.TFTransformOutput.TRANSFORM_FN_DIR, tft.TFTransformOutput.TRANSFORMED_METADATA_DIR)
    }
    graph["graph"] = hashlib.sha256(canonical_graph(data).encode()).hexdigest()
    (staging / layout.TRANSFORM_DIGEST).write_text(manifest.to_json(graph), encoding="utf-8")


def tree_digest(root: str, ignore: Container[str] = ()) -> str:
    """One hash of every file's path and content under ``root`` (local or remote), but ``ignore``d names.

    Paths count relative to ``root``, so the same files anywhere give the same hash.
    """
    files = {}
    for directory, _, names in tf.io.gfile.walk(root):
        for name in names:
            if name not in ignore:
                path = location.join(directory, name)
                with tf.io.gfile.GFile(path, "rb") as f:
                    files[path[len(root):]] = hashlib.sha256(f.read()).hexdigest()
    return hashlib.sha256(manifest.to_json(files).encode()).hexdigest()


def canonical_graph(data: str) -> str:
    """The transform_fn's saved graph as text that depends on what it computes only.

    TF writes a graph's and each function's nodes in an order that varies
    between processes (it follows Python's per-process string hashing), names
    vocabulary tables after the temp dir the graph was built in, and numbers
    functions and captured inputs with a counter of the process
    (``__inference_initializer_15508``), which is further on in a process that
    traced more before (the local runner's, against a remote Beam worker's):
    the nodes are sorted by name, that dir is cut out and the numbers are
    renumbered in their order (:func:`renumbering`).
    """
    with tf.io.gfile.GFile(location.join(data, tft.TFTransformOutput.TRANSFORM_FN_DIR, SAVED_MODEL), "rb") as f:
        model = saved_model_pb2.SavedModel.FromString(f.read())
    renumbered = renumbering(str(model).replace(data, ""))
    for meta_graph in model.meta_graphs:
        graph = meta_graph.graph_def
        sort_by(graph.node, lambda node: renumbered(node.name))
        sort_by(graph.library.function, lambda function: renumbered(function.signature.name))
        for function in graph.library.function:
            sort_by(function.node_def, lambda node: renumbered(node.name))
    return renumbered(str(model).replace(data, ""))


def renumbering(text: str) -> Callable[[str], str]:
    """A function that replaces each number ending a name (``f_15508``) or making up a string attribute
    (``s: "15374"``) in graph text by its rank among those of ``text``: the same for any offset of TF's
    counter, and one to one, so the nodes stay wired as they were."""
    rank = {number: str(i) for i, number in enumerate(sorted({int(n) for n in NAME_NUMBER.findall(text)}))}
    return lambda part: NAME_NUMBER.sub(lambda found: rank[int(found[0])], part)


def sort_by(repeated: MutableSequence[Any], key: Callable[[Any], Any]) -> None:
    """Sort a repeated protobuf field in place."""
    ordered = sorted(repeated, key=key)
    del repeated[:]
    repeated.extend(ordered)
