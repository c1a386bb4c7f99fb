"""The Beam steps' pipeline run in the task's own process, without Beam, where Beam would run it locally.

With the default local runner (FnApiRunner, one process, every collection in
memory), Beam's own cost, seconds per run, is most of a transform of a data
set of thousands or millions of rows. :func:`run_pipeline` does what
:func:`tft_build.steps.transform.build_pipeline`'s pipeline does, in the
same order and to the same files: it reads each split's CSVs once into clean
record batches (:mod:`tft_build.steps.batching`, counted, with their
statistics), runs tf.Transform's analysis on the training batches
(:mod:`tft_build.steps.localtft`), transforms both splits with the
transform_fn it made, and writes the records, their digests, the transform_fn,
both metadata and the quarantined rows; the statistics' partials it returns,
where Beam's pipeline writes them to a file. The outputs are Beam's, byte for
byte, so ``transform_engine`` (:func:`applies`) changes how long a transform
takes, not what it makes.
"""

import collections
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from apache_beam.options.pipeline_options import DirectOptions, PipelineOptions, StandardOptions
from tensorflow_transform.beam.tft_beam_io import transform_fn_io
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

from tft_build import layout
from tft_build.engine.trace import traced
from tft_build.io import location, manifest
from tft_build.steps import batching, datastats, digests, localtft
from tft_build.steps.transformjob import TransformJob

if TYPE_CHECKING:
    from tft_build.config.settings import Config

LOCAL_RUNNERS = ("FnApiRunner", "apache_beam.runners.portability.fn_api_runner.FnApiRunner")
# The most CSV bytes transformed here: the rows are held in memory from the read to the last phase of the
# analysis (about their size in the CSVs), where Beam streams them.
MAX_BYTES = 2**30
# Threads encoding record batches while this one runs the transform graph and writes (numpy, crc32c and
# sha256 let go of the GIL on a batch's arrays): 1,000,000 rows took 20.5 s instead of 23.7 s on 2 cores.
ENCODERS = 2
SHARD = "-00000-of-00001"  # the name Beam gives the one shard of a one-bundle write


def applies(cfg: "Config", options: PipelineOptions, files: Mapping[str, Sequence[str]]) -> bool:
    """Whether the pipeline runs here: ``transform_engine = "auto"``, the Beam options name the local
    runner in one process (the default), every input and output is a local file, and the inputs are
    at most :data:`MAX_BYTES`."""
    direct = options.view_as(DirectOptions)
    return (
        cfg.transform_engine == "auto"
        and options.view_as(StandardOptions).runner in LOCAL_RUNNERS
        and (direct.direct_running_mode or "in_memory") == "in_memory"
        and (direct.direct_num_workers or 1) == 1
        and not cfg.shared_dir
        and not any(location.is_remote(path) for paths in files.values() for path in paths)
        and sum(os.path.getsize(path) for paths in files.values() for path in paths) <= MAX_BYTES
    )


@traced
def run_pipeline(job: TransformJob) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]] | None:
    """The pipeline's outputs under ``job.data``, the row counts of each split and the statistics' partials
    (with ``job.gather``); None, having read and written nothing, when the analysis needs Beam
    (:class:`localtft.Unsupported`)."""
    cfg, data = job.cfg, job.data
    raw_config = batching.tensor_adapter_config(cfg, job.raw_metadata)
    with tft_beam.Context(temp_dir=location.join(data, layout.TFT_TEMP_DIR), force_tf_compat_v1=cfg.tf_compat_v1):
        try:
            planned = localtft.plan(job.preprocessing_fn, raw_config)
        except localtft.Unsupported as why:
            print(f"the transform runs through Beam: tft_build runs no {why} itself")
            return None
        batches, counts, bad, partials = read_splits(cfg, job.files, job.row_filter, job.gather)
        batching.check_counts(counts, job.files)
        transform_fn_dir, metadata = localtft.analyze(planned, batches["train"])
        transformer = localtft.Transformer(transform_fn_dir, metadata, raw_config)
        for split, split_batches in batches.items():
            write_records(data, split, transformer(split_batches))
        write_transform_fn(data, transform_fn_dir, metadata, planned.asset_map)
        metadata_io.write_metadata(job.raw_metadata, location.join(data, tft.TFTransformOutput.RAW_METADATA_DIR))
    if cfg.on_bad_rows == "skip":
        write_lines(location.join(data, layout.QUARANTINE_FILE), [batching.QUARANTINE_HEADER, *bad])
    return counts, datastats.parsed_partials(partials)


@traced
def read_splits(
    cfg: "Config", files: Mapping[str, Sequence[str]], row_filter: Callable[[Mapping[str, Any]], Any], gather: bool,
) -> tuple[dict[str, list[pa.RecordBatch]], dict[str, dict[str, int]], list[str], list[str]]:
    """Each split's clean record batches, its row counts, the quarantine lines and the statistics' partials,
    from one counted read of each CSV (the training rows are analyzed and transformed from the same read)."""
    batches, counts, bad, partials = {}, {}, [], []
    for split, paths in files.items():
        tallies = {name: batching.Tally() for name in batching.COUNTERS}
        batches[split] = []
        outputs = {None: batches[split], batching.BAD: bad, batching.STATS: partials}
        for path in paths:
            for tag, value in batching.clean_batches(path, cfg, row_filter, split, tallies, gather):
                outputs[tag].append(value)
        counts[split] = batching.tallied_counts(tallies)
    return batches, counts, bad, partials


@traced
def write_records(data: str, split: str, transformed: Iterable[tuple[pa.RecordBatch, Any]]) -> None:
    """The split's records in one shard, and the digest of them that the Beam pipeline writes beside it."""
    parts = []
    with open(location.join(data, split) + SHARD + layout.RECORDS_SUFFIX, "wb") as f:
        for chunk, digest in in_order(digests.encode, transformed):
            f.write(chunk)
            parts.append(digest)
    write_lines(digests.records_digest_file(data, split),
                [manifest.to_json(manifest.digest_json(manifest.add_digests(parts)))])


def in_order(function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
    """``function`` of each item, in order, computed by :data:`ENCODERS` threads a few items ahead."""
    pool = ThreadPoolExecutor(ENCODERS, thread_name_prefix="encode")
    pending: collections.deque = collections.deque()
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) > 2 * ENCODERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@traced
def write_transform_fn(
    data: str, transform_fn_dir: str, metadata: dataset_metadata.DatasetMetadata, asset_map: Mapping[str, str],
) -> None:
    """``transform_fn/`` and ``transformed_metadata/`` (with the asset map), as TFT's WriteTransformFn."""
    metadata_dir = location.join(data, tft.TFTransformOutput.TRANSFORMED_METADATA_DIR)
    metadata_io.write_metadata(metadata, metadata_dir)
    if asset_map:
        with open(os.path.join(metadata_dir, tft.TFTransformOutput.ASSET_MAP), "w") as f:
            f.write(json.dumps(asset_map))
    transform_fn_io._copy_tree(transform_fn_dir, location.join(data, tft.TFTransformOutput.TRANSFORM_FN_DIR))


def write_lines(path: str, lines: Sequence[str]) -> None:
    """A text file of ``lines``, each ended by a newline (what Beam's WriteToText writes)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in lines))
