"""Plug-in code named by dotted path: ``"package.module:function"``.

The config names ``preprocessing_fn``, the row filter, the slice function and the model builders
(``models.<name>``) this way, so users point it at their own module, beside
the project or its config file or installed, without editing the engine.
:func:`check` runs when the tasks load and imports nothing (so a typo is a
one-line error before anything runs, and TensorFlow stays unloaded);
:func:`resolve` imports, when a step runs.
"""

import contextlib
import importlib
import importlib.util
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tft_build.config.settings import Config  # quoted in hints: a step's code fingerprint would count an unquoted one
from tft_build.display import shown
from tft_build.engine import fingerprint, sourceguard
from tft_build.errors import ConfigError, TftBuildError, first_line


def plugin_settings(cfg: "Config") -> list[str]:
    """The settings that name code: ``preprocessing_fn``, ``row_filter``, ``slice_fn``, ``models.<name>``."""
    return ["preprocessing_fn", "row_filter", "slice_fn"] + [f"models.{name}" for name, _ in cfg.models]


def path_of(cfg: "Config", setting: str) -> str:
    """The dotted path that ``setting`` holds."""
    table, _, name = setting.partition(".")
    return cfg.model_builder(name) if table == "models" else getattr(cfg, setting)


def check(cfg: "Config", setting: str) -> None:
    """A one-line ConfigError unless the code ``setting`` names exists; imports nothing.

    A module beside the project is parsed (a syntax error names its line) and
    must bind the name; an installed module must be found.
    """
    path, where = path_of(cfg, setting), cfg.where(setting)
    module_name, _, attr = path.partition(":")
    roots = tuple(Path(d).resolve() for d in cfg.code_dirs)
    source = fingerprint.module_path(module_name, roots)
    if source is None:
        # The top-level name only: finding a submodule would import (run) its package.
        if importlib.util.find_spec(module_name.split(".")[0]) is None:
            dirs = ", ".join(str(d) for d in roots)
            raise ConfigError(f"{where}: cannot find module '{module_name}' (not in {dirs}, not installed)")
        return
    try:
        bound = fingerprint.module_binds(module_name, roots, attr)
    except SyntaxError as err:
        raise ConfigError(f"{err.filename}:{err.lineno}: syntax error ({err.msg}); {where} names this module") from None
    if not bound:
        raise ConfigError(f"{where}: {source} defines no '{attr}'")


def resolve(cfg: "Config", setting: str) -> Any:
    """The object that ``setting`` names; a one-line ConfigError if it does not resolve."""
    path, where = path_of(cfg, setting), cfg.where(setting)
    module_name, _, attr = path.partition(":")
    sourceguard.add_code_dirs(cfg.code_dirs)  # user modules import by plain name
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"{where}: cannot import module '{module_name}' ({err})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{where}: module '{module_name}' has no '{attr}'") from None


@contextlib.contextmanager
def blamed_on(cfg: "Config", setting: str) -> Iterator[None]:
    """Within the block, an exception from the code ``setting`` names is one line (:func:`user_code_error`).

    The exception stays its cause, for the traceback that ``TFT_BUILD_VERBOSE=1`` prints.
    """
    try:
        yield
    except TftBuildError:
        raise
    except Exception as err:
        raise user_code_error(cfg, setting, err) from err


def user_code_error(cfg: "Config", setting: str, err: Exception) -> ConfigError:
    """A one-line ConfigError for an exception that the code ``setting`` names raised.

    It says which setting, what was raised, and the last line of the user's
    own modules (beside the project or its config) that the error went through.
    """
    dirs = tuple(str(d) + os.sep for d in cfg.code_dirs)
    user_frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith(dirs)]
    at = f" at {shown(user_frames[-1].filename, cfg.project_dir)}:{user_frames[-1].lineno}" if user_frames else ""
    return ConfigError(
        f"{cfg.where(setting)}: {path_of(cfg, setting)} raised {type(err).__name__}: {first_line(err)}{at}"
    )
