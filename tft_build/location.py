"""Where a Beam step's bulk output lives: the artifacts dir, or shared storage.

On one machine the transform writes its TFRecords and transform_fn into its
own dir under ``artifacts/``. A distributed runner's workers cannot see that
dir, so with ``shared_dir`` set (``gs://bucket/path``, ``s3://...``,
``hdfs://...``, or any dir the workers share) each build writes its bulk
output to a fresh ``<shared_dir>/<step dir>/<build id>/``, and the step's dir
under ``artifacts/`` keeps the small files doit and the report read (the
manifest, digests, sample) and ``location.json``, which names that build.
The pointer is written with the manifest, last, so consumers see the old
build or the new one, never a half-written one; the build it replaces is
deleted after.

Nothing here imports TensorFlow or Beam.
"""

import json
import uuid
from pathlib import Path

LOCATION = "location.json"


def data_dir(cfg, directory):
    """Where the bulk output of the step dir ``directory`` ("raw", "transformed") is now."""
    pointer = Path(cfg.artifact(directory, LOCATION))
    if pointer.is_file():
        return json.loads(pointer.read_text(encoding="utf-8"))["data_dir"]
    return cfg.artifact(directory)


def new_build_dir(cfg, directory, staging):
    """Where a new build of ``directory`` writes its bulk output: a fresh shared dir, or ``staging``."""
    if not cfg.shared_dir:
        return str(staging)
    return join(cfg.shared_dir, directory, uuid.uuid4().hex)


def join(base, *parts):
    """A path or URL under ``base`` (``/`` works for local paths and every Beam filesystem)."""
    return "/".join([str(base).rstrip("/"), *parts])


def is_remote(path):
    """Whether ``path`` is a URL of a Beam filesystem (``gs://``, ``s3://``, ``hdfs://`` ...)."""
    return "://" in str(path)
