"""Calling a step: import its module, run it traced, and say in one line why it failed.

What a task's process (:func:`tft_build.engine.actions.run_step`) and a warm worker
(:mod:`tft_build.engine.warm`) both do to run ``"module:function"(cfg, *args)``:
the module is imported with TensorFlow's start-up chatter hidden, the call
traced into the task's trace file, and a failure comes back as the line doit
shows (a user error as its message, anything else as its first line with how
to see the traceback), never as a traceback.
"""

import contextlib
import errno
import importlib
import logging
import os
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tft_build.config.settings import Config
from tft_build.engine import heap, trace
from tft_build.errors import TftBuildError, causes, first_line, message
from tft_build.io import location

VERBOSE = "TFT_BUILD_VERBOSE"


def call_step(step: str, cfg: Config, args: tuple[Any, ...], task_name: str, trace_file: str, run: str) -> str | None:
    """Import and call ``step(cfg, *args)``, traced into ``trace_file``; the failure's line, or None.

    With ``TFT_BUILD_VERBOSE`` set, an unexpected error is raised, for its traceback.
    """
    module_name, _, function = step.partition(":")
    try:
        with quiet_native_stderr():
            module = importlib.import_module(module_name)
        heap.settle_once()  # the step's libraries are loaded: the full collections of the steps skip them
        with trace.recording(task_name, trace_file, run):
            getattr(module, function)(cfg, *args)
    except TftBuildError as err:
        if os.environ.get(VERBOSE) and err.__cause__:  # user code's error, blamed on its setting
            traceback.print_exception(err.__cause__)
        return message(err)
    except SystemExit as err:  # a library's argparse or the user's code exits: the task fails, the run goes on
        return f"{task_name}: the step exited with status {err.code} (set {VERBOSE}=1 for the traceback)"
    except Exception as err:
        if os.environ.get(VERBOSE):
            raise
        if not Path(cfg.artifacts_dir).is_dir():  # what the step wrote into went with it
            return f"{task_name}: {cfg.artifacts_dir} was deleted while the task ran; run doit again"
        full = out_of_space(cfg, err)
        if full:
            return f"{task_name}: {full}"
        return f"{type(err).__name__}: {first_line(err)} (set {VERBOSE}=1 for the traceback)"
    return None


def out_of_space(cfg: Config, err: Exception) -> str | None:
    """What to say of a step that ran out of disk space, naming where; None for any other error.

    TensorFlow and Beam re-raise the OSError as their own error, with the
    file in the text, and Beam may wrap that in a RuntimeError of its own
    ("Failed to apply: ..."), so the whole cause chain is searched: the dir
    named is the artifacts dir or ``shared_dir`` that holds that file, else
    the file's dir.
    """
    err = next((e for e in causes(err) if _is_out_of_space(e)), None)
    if err is None:
        return None
    text = str(err)
    named = getattr(err, "filename", None) or next(iter(re.findall(r"(/[^\s;:,'\"]+)", text)), None)
    path = Path(named or cfg.artifacts_dir)
    roots = [Path(d) for d in (cfg.artifacts_dir, cfg.shared_dir) if d and not location.is_remote(str(d))]
    where = next((root for root in roots if root == path or root in path.parents), path.parent)
    room = next((d for d in (where, *where.parents) if d.exists()), where)
    free = f" ({shutil.disk_usage(room).free / 2**20:.1f} MiB free now)"
    return (f"no space left on the device of {where}{free}; free some space there, or set artifacts_dir "
            "(and shared_dir) to a disk with room, and run doit again")


def _is_out_of_space(err: BaseException) -> bool:
    return getattr(err, "errno", None) == errno.ENOSPC or "No space left on device" in str(err)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide TensorFlow's C++ start-up chatter (no env var silences it).

    Native code writes to file descriptor 2 directly, so the descriptor is
    pointed at a temp file while the step module (and TensorFlow) load, and
    what was written is replayed if the import fails. Python's own logging is
    set to errors only and to the real stderr, which doit does not wrap.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # errors reach Python as exceptions
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
            _quiet_python_logging()
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.__stderr__.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _quiet_python_logging():
    """Errors only from absl and TensorFlow (Keras's warnings of slow callbacks on tiny batches are
    noise); none from Beam, whose failures come back as exceptions."""
    import absl.logging  # installed with TensorFlow; imported only once it is

    logging.getLogger("apache_beam").setLevel(logging.CRITICAL)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    absl.logging.set_verbosity(absl.logging.ERROR)
    absl.logging.get_absl_handler().python_handler.stream = sys.__stderr__
