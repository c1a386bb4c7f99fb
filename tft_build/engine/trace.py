"""Call tracing: who called which step function, in what order, for how long.

Step functions are decorated with :func:`traced`. While a task runs inside
:func:`recording`, each call of a traced function is recorded with its caller
(the traced function below it on a context stack, or the task itself, at
depth 0), its order, its start (seconds since the task began) and its duration; a call that
raises is recorded too, with the exception's type. Outside a recording the
decorator costs one global lookup and a call.

The trace of a task's last run is written to ``<artifacts>/traces/<task>.json``
when the task ends, so a task that is now up to date keeps its last trace.
"""

import contextlib
import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tft_build.engine import interrupt
from tft_build.io.atomic import write_file_atomic
from tft_build.io.manifest import to_json

_recorder = None  # the Recorder of the running task, or None: tracing is off
_stack = contextvars.ContextVar("tft_build_trace_stack", default=())
P = ParamSpec("P")
T = TypeVar("T")


class Recorder:
    """The calls recorded while one task runs."""

    def __init__(self, task: str) -> None:
        self.task = task
        self.started = time.perf_counter()
        self.calls = []

    def as_dict(self, run: str) -> dict[str, Any]:
        return {"task": self.task, "run": run, "calls": self.calls}


def traced(function: Callable[P, T]) -> Callable[P, T]:
    """Record each call of ``function`` while a task is being recorded."""
    name = function.__qualname__

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        interrupt.check()
        recorder = _recorder
        if recorder is None:
            return function(*args, **kwargs)
        stack = _stack.get()
        call = {
            "order": len(recorder.calls) + 1,
            "caller": stack[-1] if stack else recorder.task,
            "called": name,
            "depth": len(stack),  # 0: called by the task itself
        }
        recorder.calls.append(call)
        token = _stack.set(stack + (name,))
        start = time.perf_counter()
        call["start"] = round(start - recorder.started, 6)
        call["error"] = None
        try:
            return function(*args, **kwargs)
        except BaseException as err:
            call["error"] = type(err).__name__
            raise
        finally:
            call["elapsed_time"] = round(time.perf_counter() - start, 6)
            _stack.reset(token)

    return wrapper


@contextlib.contextmanager
def recording(task: str, trace_file: str | Path | None = None, run: str = "") -> Iterator[Recorder]:
    """Record the traced calls of ``task``; write them to ``trace_file`` at the end."""
    global _recorder
    previous, _recorder = _recorder, Recorder(task)
    recorder = _recorder
    try:
        yield recorder
    finally:
        _recorder = previous
        if trace_file is not None:
            write_file_atomic(trace_file, to_json(recorder.as_dict(run)))
