"""Paths as the build record and the build cache name them: relative to the project.

doit keys a task's file states by the path string its task gives, and
tft_build's tasks give absolute paths, so a project that is copied, moved or
cloned elsewhere would look as if every input had been replaced. Everything
stored therefore names a file by where it is *in the project*: a path under
the artifacts dir as ``$ARTIFACTS/...``, one under the project dir as
``$PROJECT/...`` (the artifacts dir is tried first: it may be configured
outside the project). A path outside both stays absolute.

:func:`codec_for` is doit's codec for the database (``codec_cls``): it writes
the file keys of each task's record in this form and reads them back as the
paths of the project where doit runs now.
"""

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from doit.dependency import JSONCodec

from tft_build.config.settings import Config

ARTIFACTS = "$ARTIFACTS"
PROJECT = "$PROJECT"
PATH_LISTS = ("deps:",)  # doit's record keys whose value is a list of paths
Roots = Sequence[tuple[str, str]]  # (name, absolute dir) pairs, as made by roots()


def roots(cfg: Config) -> tuple[tuple[str, str], ...]:
    """``((name, dir), ...)``: the dirs that stored paths are relative to, most specific first."""
    return ((ARTIFACTS, os.path.abspath(cfg.artifacts_dir)), (PROJECT, os.path.abspath(cfg.project_dir)))


def portable(path: str | Path, roots: Roots) -> str:
    """``path`` named relative to the first of ``roots`` it is under; others unchanged."""
    text = str(path)
    if "://" in text or not os.path.isabs(text):
        return text
    for name, root in roots:
        if text == root or text.startswith(root.rstrip(os.sep) + os.sep):
            return name + "/" + os.path.relpath(text, root).replace(os.sep, "/")
    return text


def local(name: str, roots: Roots) -> str:
    """The path here of a name made by :func:`portable`."""
    head, _, rest = str(name).partition("/")
    for root_name, root in roots:
        if head == root_name:
            return os.path.join(root, *rest.split("/")) if rest and rest != "." else root
    return name


def codec_for(roots: Roots) -> type["PortableCodec"]:
    """A doit codec class whose records name files by :func:`portable` paths under ``roots``."""
    return type("PortableCodec", (PortableCodec,), {"roots": roots})


class PortableCodec(JSONCodec):
    """doit's JSON codec, with each task record's file keys relative to the project."""

    roots: Roots = ()

    def encode(self, data: Any) -> str:
        if isinstance(data, dict):
            data = {self._key(k, portable): self._value(k, v, portable) for k, v in data.items()}
        return json.dumps(data)

    def decode(self, data: str) -> Any:
        data = json.loads(data)
        if isinstance(data, dict):
            data = {self._key(k, local): self._value(k, v, local) for k, v in data.items()}
        return data

    def _key(self, key, convert):
        return key if key.endswith(":") else convert(key, self.roots)

    def _value(self, key, value, convert):
        if key in PATH_LISTS and isinstance(value, (list, tuple)):
            return [convert(path, self.roots) for path in value]
        return value
