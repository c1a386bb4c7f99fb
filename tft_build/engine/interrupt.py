"""Ctrl-C that always stops a run, even when TensorFlow swallows it.

Python turns Ctrl-C into a KeyboardInterrupt wherever the main thread is. When
that is inside one of TensorFlow's finalizers (a traced graph's deleter runs
``try: ... except: pass``, and graphs are collected all the time while
tf.data and Keras trace functions), the interrupt is lost and the run goes on
as if nothing happened; inside a weakref callback, Python prints it as an
"Exception ignored" traceback (or a SystemError caused by it) and goes on. So a run remembers that Ctrl-C
was pressed, keeps those tracebacks quiet, and the places it passes often
(each traced step function, each training batch, each task) raise it again
until the run has stopped.
"""

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from tft_build.errors import causes

_pressed = threading.Event()


@contextlib.contextmanager
def remembered() -> Iterator[None]:
    """Within the block, Ctrl-C raises KeyboardInterrupt and is remembered until the block ends."""
    def handler(signum, frame):
        _pressed.set()
        raise KeyboardInterrupt

    def unraisable(info):
        if not from_ctrl_c(info.exc_value):  # that one is raised again by check()
            previous_hook(info)

    previous, previous_hook = signal.signal(signal.SIGINT, handler), sys.unraisablehook
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.unraisablehook = previous_hook
        _pressed.clear()


def from_ctrl_c(error: BaseException | None) -> bool:
    """Whether ``error`` is a KeyboardInterrupt or came of one: a C function that Ctrl-C interrupted
    while it called Python (an import in TensorFlow's ``nest``) fails with a SystemError caused by it."""
    return any(isinstance(e, KeyboardInterrupt) for e in causes(error))


def check() -> None:
    """Raise KeyboardInterrupt again if Ctrl-C was pressed and the run is still going."""
    if _pressed.is_set():
        raise KeyboardInterrupt
