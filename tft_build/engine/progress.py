"""Progress lines of long steps, for people watching a run; none with ``doit -q``.

A step says how far it got every few seconds (:class:`Throttle`, 5 s, or
``TFT_BUILD_PROGRESS_SECONDS``): the
transform the rows it has read per phase and split (:func:`rows_read`), the
training one line per epoch (:mod:`tft_build.steps.trainlog`). Progress is
never part of an output. ``doit -q`` (tft_build's ``run``) sets
``TFT_BUILD_QUIET`` for the run, so the steps print only their summaries and
doit its timing table; the variable does the same for any run. It is read
when a line is due, so Beam's worker processes, which inherit it, obey it too.
"""

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

QUIET = "TFT_BUILD_QUIET"
EVERY = "TFT_BUILD_PROGRESS_SECONDS"  # seconds between two progress lines of a step, if not EVERY_SECONDS
EVERY_SECONDS = 5.0


def quiet() -> bool:
    """Whether progress lines are off (``TFT_BUILD_QUIET`` set, and not to 0)."""
    return os.environ.get(QUIET, "") not in ("", "0")


@contextlib.contextmanager
def quieted(on: bool) -> Iterator[None]:
    """Within the block, progress lines are off when ``on`` (the variable is put back after)."""
    previous = os.environ.get(QUIET)
    if on:
        os.environ[QUIET] = "1"
    try:
        yield
    finally:
        if on and previous is None:
            del os.environ[QUIET]
        elif on:
            os.environ[QUIET] = previous


def every_seconds() -> float:
    """Seconds between two progress lines: ``TFT_BUILD_PROGRESS_SECONDS``, else EVERY_SECONDS."""
    try:
        return float(os.environ.get(EVERY) or EVERY_SECONDS)
    except ValueError:
        return EVERY_SECONDS


def say(line: str) -> None:
    """Print a progress line now, unless progress is off."""
    if not quiet():
        print(line, flush=True)


class Throttle:
    """``due()`` is true at most once every ``seconds`` (first after ``seconds``): a clock read per call."""

    def __init__(self, seconds: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = every_seconds() if seconds is None else seconds
        self.clock = clock
        self.last = clock()

    def due(self) -> bool:
        now = self.clock()
        if now - self.last < self.seconds:
            return False
        self.last = now
        return True


class RowCount:
    """The rows read so far in this process, per ``(phase, split)``, and when to say so."""

    def __init__(self, throttle: Throttle | None = None) -> None:
        self.rows: dict[tuple[str, str], int] = {}
        self.throttle = throttle or Throttle()
        self.lock = threading.Lock()  # Beam may run bundles on several threads

    def add(self, phase: str, split: str, rows: int) -> None:
        with self.lock:
            self.rows[phase, split] = self.rows.get((phase, split), 0) + rows
            line = self.line() if self.throttle.due() else None
        if line:
            say(line)

    def line(self) -> str:
        """``rows read: analyze train 300,000; transform eval 20,000, train 120,000`` (in name order)."""
        phases: dict[str, list[str]] = {}
        for (phase, split), rows in sorted(self.rows.items()):
            phases.setdefault(phase, []).append(f"{split} {rows:,}")
        return "rows read: " + "; ".join(f"{phase} {', '.join(splits)}" for phase, splits in phases.items())


_count = RowCount()


def rows_read(batches: Iterable[Any], split: str, analyzed: bool) -> Iterator[Any]:
    """The record batches of ``batches`` as they come, their rows counted for the progress lines:
    under ``analyze`` for the read that feeds the analysis (``analyzed``), else ``transform``."""
    phase = "analyze" if analyzed else "transform"
    for batch in batches:
        _count.add(phase, split, batch.num_rows)
        yield batch


def restart() -> None:
    """Count from zero: a new pipeline of this process starts (one doit run may run two)."""
    global _count
    _count = RowCount()
