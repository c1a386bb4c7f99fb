"""Guards for the artifacts dir, where a build tool can destroy what it did not make.

- :func:`check_artifacts_dir` and :func:`check_clean_target`: tft_build
  writes, and ``doit clean`` deletes, only inside an artifacts dir that is
  plainly its own: not ``/``, the home dir or the project root, not holding
  the data or the config; clean also refuses one with files it did not make.

doit's dependency database has a guard of its own, :mod:`tft_build.engine.statedb`.
"""

import glob
import os
from pathlib import Path

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.errors import TftBuildError


class UnsafeArtifactsDir(TftBuildError):
    """The artifacts dir is not one that tft_build may build into or empty."""


def check_artifacts_dir(cfg: Config) -> None:
    """Raise :class:`UnsafeArtifactsDir` for an artifacts dir that tft_build must not own.

    Checked when the tasks load, before anything is written there: not the
    filesystem root, the home dir or the project root, not a dir that
    holds the data, the config or a ``data/`` dir, and no glob character in
    its path (TensorFlow's checkpoint reader globs the paths it is given).
    """
    root = Path(cfg.artifacts_dir).resolve()
    refuse = f"artifacts_dir {root} is not safe to build into and clean"
    if root == Path(root.anchor) or root == Path.home().resolve() or root == cfg.project_dir.resolve():
        raise UnsafeArtifactsDir(f"{refuse}: it is the filesystem root, the home dir or the project root")
    if glob.has_magic(str(root)):
        raise UnsafeArtifactsDir(
            f"{cfg.where('artifacts_dir')}: {root} has *, ? or [ in its path, which TensorFlow reads as a pattern "
            "when it loads what the transform saved; set artifacts_dir to a path without them"
        )
    precious = [Path(p).resolve() for p in (*cfg.config_files, *cfg.train_data, *cfg.eval_data)]
    inside = [p for p in precious if root in p.parents]
    if inside or (root / "data").exists():
        shown = inside[0] if inside else root / "data"
        raise UnsafeArtifactsDir(f"{refuse}: it holds {shown}; set another artifacts_dir")


def make_artifacts_dir(cfg: Config) -> None:
    """Create the artifacts dir (and its parents), or say in one line why it cannot be."""
    root = Path(cfg.artifacts_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f"{layout.LOCK_FILE}.probe-{os.getpid()}"
        probe.touch()  # a dir made before, on what became a read-only filesystem
        probe.unlink()
    except FileExistsError:
        raise UnsafeArtifactsDir(
            f"{cfg.where('artifacts_dir')}: {root} is a file, not a dir; move the file or set another artifacts_dir"
        ) from None
    except OSError as err:
        raise UnsafeArtifactsDir(
            f"{cfg.where('artifacts_dir')}: cannot write in {root} ({err.strerror}); "
            "set artifacts_dir to a dir you can write"
        ) from None


def check_clean_target(cfg: Config) -> None:
    """Raise :class:`UnsafeArtifactsDir` unless ``doit clean`` may empty the artifacts dir."""
    check_artifacts_dir(cfg)
    root = Path(cfg.artifacts_dir)
    strangers = sorted(p.name for p in root.iterdir() if not made_by_tft_build(p.name)) if root.is_dir() else []
    if strangers:
        raise UnsafeArtifactsDir(
            f"refusing to clean artifacts_dir {root.resolve()}: it holds files tft_build did not make "
            f"({', '.join(strangers[:5])}); move them or set another artifacts_dir"
        )


def made_by_tft_build(name: str) -> bool:
    """Whether a top-level entry of the artifacts dir is one of tft_build's."""
    if name in layout.OUTPUT_DIRS or name.startswith(layout.HIDDEN_PREFIXES):
        return True
    # staging dirs of atomic outputs: .<output>.tmp-*, .<output>.old-*
    return name.startswith(".") and (".tmp-" in name or ".old-" in name)
