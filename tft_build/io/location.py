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

Input CSVs may be on shared storage too: they are matched and read through
Beam's filesystems. Nothing here imports TensorFlow, and Beam only for a path
on remote storage.
"""

import json
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO, Protocol

from tft_build import layout
from tft_build.errors import DataError, first_line
from tft_build.io.manifest import to_json


class Artifacts(Protocol):
    """What these functions read of the config (io sits below the settings)."""

    shared_dir: str

    def artifact(self, *parts: str) -> str: ...


def data_dir(cfg: Artifacts, directory: str) -> str:
    """Where the bulk output of the step dir ``directory`` ("raw", "transformed") is now."""
    return pointed_build(cfg.artifact(directory)) or cfg.artifact(directory)


def new_build_dir(cfg: Artifacts, directory: str, staging: str | Path) -> str:
    """Where a new build of ``directory`` writes its bulk output: a fresh shared dir, or ``staging``."""
    return fresh_build_dir(cfg.shared_dir, directory) if cfg.shared_dir else str(staging)


def fresh_build_dir(shared_dir: str, directory: str) -> str:
    """A new, unique build dir for the step dir ``directory`` under ``shared_dir``."""
    return join(shared_dir, directory, uuid.uuid4().hex)


def join(base: str | Path, *parts: str) -> str:
    """A path or URL under ``base`` (``/`` works for local paths and every Beam filesystem)."""
    return "/".join([str(base).rstrip("/"), *parts])


def is_remote(path: str | Path) -> bool:
    """Whether ``path`` is a URL of a Beam filesystem (``gs://``, ``s3://``, ``hdfs://`` ...)."""
    return "://" in str(path)


def open_binary(path: str | Path) -> BinaryIO:
    """A local file or a file on any Beam filesystem, opened for reading bytes."""
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems  # only for remote storage: Beam loads slowly

        return FileSystems.open(path)
    return open(path, "rb")


def match(pattern: str) -> list[tuple[str, int, float]]:
    """The files on a Beam filesystem that a path or glob names, sorted: ``[(path, size, mtime)]``."""
    from apache_beam.io.filesystems import FileSystems

    try:
        found = FileSystems.match([pattern])[0].metadata_list
    except Exception as err:
        raise DataError(f"{pattern}: cannot list it ({first_line(err)})") from None
    return sorted((m.path, m.size_in_bytes, m.last_updated_in_seconds) for m in found)


def remove_build(path: str | Path) -> None:
    """Delete a build dir (local, or on any Beam filesystem) if it exists."""
    if is_remote(path):
        from apache_beam.io.filesystems import FileSystems  # only for remote storage: Beam loads slowly

        if FileSystems.exists(path):
            FileSystems.delete([path])
    else:
        shutil.rmtree(path, ignore_errors=True)


def remove_pointed_build(step_dir: str | Path) -> None:
    """Delete the shared build that ``step_dir/location.json`` names, if any (``doit clean``)."""
    pointed = pointed_build(step_dir)
    if pointed:
        remove_build(pointed)


def write_pointer(step_dir: str | Path, build: str) -> None:
    """Write ``step_dir/location.json``, naming the shared build dir ``build``."""
    (Path(step_dir) / layout.LOCATION).write_text(to_json({"data_dir": build}), encoding="utf-8")


def pointed_build(step_dir: str | Path) -> str | None:
    """The shared build dir that ``step_dir/location.json`` names, or None."""
    pointer = Path(step_dir) / layout.LOCATION
    return json.loads(pointer.read_text(encoding="utf-8"))["data_dir"] if pointer.is_file() else None


def tree(root: str | Path) -> dict[str, str]:
    """Every file of a build dir, local or on a Beam filesystem: ``{path relative to root: path}``."""
    root = str(root).rstrip("/")
    if not is_remote(root):
        return {str(p.relative_to(root)): str(p) for p in sorted(Path(root).rglob("*")) if p.is_file()}
    from apache_beam.io.filesystems import FileSystems  # only for remote storage: Beam loads slowly

    found = FileSystems.match([join(root, "**")])[0].metadata_list
    return {m.path[len(root) + 1:]: m.path for m in sorted(found, key=lambda m: m.path)}


def copy_file(src: str | Path, dst: str | Path) -> None:
    """Copy one file between local paths and Beam filesystems (either side may be remote)."""
    if not (is_remote(src) or is_remote(dst)):
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return
    from apache_beam.io.filesystems import FileSystems  # only for remote storage: Beam loads slowly

    if not is_remote(dst):
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
    reader = open_binary(src)
    writer = FileSystems.create(dst) if is_remote(dst) else open(dst, "wb")
    with reader, writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
