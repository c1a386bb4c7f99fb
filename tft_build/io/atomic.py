"""Write outputs so that a failed or killed step never leaves half of one.

A step writes into a hidden staging sibling of its output and renames it into
place only when everything (manifest last) is written; a crash leaves the
previous good output. Staging left by a killed run is removed by the next one.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a staging dir that replaces ``final`` when the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(final)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the output is not
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    replace_dir(staging, final)


def replace_dir(staging: Path, final: Path) -> None:
    """Rename ``staging`` to ``final``, moving any previous ``final`` out first."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
    os.rename(staging, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_staging(final: Path) -> None:
    """Delete staging and moved-out dirs that a killed run left beside ``final``."""
    for pattern in (f".{final.name}.tmp-*", f".{final.name}.old-*"):
        for path in final.parent.glob(pattern):
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()


def write_file_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the output is not
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
