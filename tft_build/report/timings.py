"""The timing tables: each task of a run against its previous run, and the call traces."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tabulate import tabulate

from tft_build.report.history import RESTORED

SLOWDOWN = 0.20  # flag a task that ran this much slower than its previous run


def timing_row(line: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One row of the timing table: the task, what happened, and the change."""
    previous = next(
        (h["seconds"] for h in reversed(history) if h["task"] == line["task"] and h["status"] == "ran"),
        None,
    )
    change = ""
    if line["status"] == "ran" and previous and line["seconds"] is not None:
        ratio = line["seconds"] / previous - 1
        change = f"{ratio:+.0%}" + (" slower" if ratio > SLOWDOWN else "")
    return {**line, "previous": previous if line["status"] in ("ran", RESTORED) else None, "change": change}


def timing_table(rows: Iterable[Mapping[str, Any]]) -> str:
    """The compact table printed after every run."""
    table = [
        [r["task"], r["status"], _seconds(r["seconds"]), _seconds(r["previous"]), r["change"]]
        for r in rows
    ]
    return tabulate(table, headers=["task", "status", "seconds", "previous", "change"], disable_numparse=True)


def _seconds(value):
    return "" if value is None else f"{value:.2f}"


def calls_table(traces: Mapping[str, Iterable[Mapping[str, Any]]]) -> str:
    """The seed's performance table: caller, called, elapsed time, in call order per task."""
    table = [
        [task, call["caller"], call["called"], f"{call['elapsed_time']:.3f}"]
        for task, calls in traces.items()
        for call in sorted(calls, key=lambda c: c["start"])
    ]
    return tabulate(table, headers=["task", "caller", "called", "elapsed_time"], disable_numparse=True)
