"""The run history: what each task did in each run, kept under ``artifacts/reports/``.

``runs.jsonl`` has one line per task per run (status, seconds, the run's id);
``status.json`` each task's last status, for pictures; ``traces/<task>.json``
the call trace of its last run (written by :mod:`tft_build.engine.trace`).
Written by the reporter after a run, read by the timing table, the task
graph, the HTML report (which goes next to them, :func:`report_path`) and
``doit cache``. This module is the only reader of ``runs.jsonl``.
"""

import datetime
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tft_build import layout
from tft_build.io.atomic import write_file_atomic
from tft_build.io.manifest import to_json

NEVER_RUN = "never run"
RESTORED = "restored"  # from the build cache instead of run
FAILED = "failed"  # doit keeps no record of the task then
UP_TO_DATE = "up to date"


def now() -> str:
    """A run's id: the local time it started, to the second."""
    return datetime.datetime.now().isoformat(timespec="seconds")


def runs_path(artifacts_dir: str | Path) -> Path:
    return Path(artifacts_dir) / layout.REPORTS / layout.RUNS_FILE


def status_path(artifacts_dir: str | Path) -> Path:
    return Path(artifacts_dir) / layout.REPORTS / layout.STATUS_FILE


def report_path(artifacts_dir: str | Path) -> Path:
    """The HTML report (:mod:`tft_build.report.html_report`), next to the history."""
    return Path(artifacts_dir) / layout.REPORTS / layout.REPORT_FILE


def append_run(
    artifacts_dir: str | Path, run: str, results: Mapping[str, tuple[str, float | None]]
) -> list[dict[str, Any]]:
    """Append the run's ``{task: (status, seconds)}`` to the history and update each task's
    last status; the history's new lines."""
    lines = [
        {"run": run, "task": task, "status": status, "seconds": seconds} for task, (status, seconds) in results.items()
    ]
    path = runs_path(artifacts_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    status = read_status(artifacts_dir)
    for line in lines:
        if line["status"] != UP_TO_DATE or line["task"] not in status:
            status[line["task"]] = line
        else:
            status[line["task"]] = {**status[line["task"]], "status": UP_TO_DATE, "run": run}
    write_file_atomic(status_path(artifacts_dir), to_json(status))
    return lines


def read_history(artifacts_dir: str | Path) -> list[dict[str, Any]]:
    """Every recorded task run, oldest first (the lines that are not one are left out)."""
    return read_history_lines(artifacts_dir)[0]


def read_history_lines(artifacts_dir: str | Path) -> tuple[list[dict[str, Any]], int]:
    """``(records, skipped)``: every recorded task run, oldest first, and how many lines were not one.

    A record is a JSON object naming its ``run`` and ``task``; a line cut
    short by a killed run (or hand-edited into something else) is skipped and
    counted, so that the report can say so. Blank lines do not count.
    """
    try:
        text = runs_path(artifacts_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], 0
    records, skipped = [], 0
    for line in filter(str.strip, text.splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict) and "run" in record and "task" in record:
            records.append(record)
        else:
            skipped += 1
    return records, skipped


def read_status(artifacts_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Each task's last recorded status, ``{task: {"status", "seconds", "run"}}``; none when the file is
    missing or damaged (not a JSON object), as before a first run."""
    try:
        status = json.loads(status_path(artifacts_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def last_failed(artifacts_dir: str | Path) -> set[str]:
    """The tasks whose last recorded run failed (doit keeps no record of them: ``doit explain`` says why)."""
    return {task for task, line in _status_lines(artifacts_dir).items() if line.get("status") == FAILED}


def last_seconds(artifacts_dir: str | Path) -> dict[str, float]:
    """``{task: seconds}`` of each task's last recorded run (:mod:`tft_build.engine.schedule` orders the
    tasks that are ready by them): its step's own seconds, from its trace, else the seconds doit timed.
    A worker's first task is timed with loading TensorFlow and the rest, seconds more than its step: after
    a cold build the reference model's fit of 0.6 s was timed 6.4 s, more than a training's. A task last
    restored from the build cache is left out: its seconds are the restore's, not what running it takes."""
    seconds = {}
    for task, line in _status_lines(artifacts_dir).items():
        if line.get("status") != RESTORED and isinstance(line.get("seconds"), (int, float)):
            seconds[task] = step_seconds(read_trace(artifacts_dir, task)) or float(line["seconds"])
    return seconds


def step_seconds(trace: Any) -> float | None:
    """The seconds of a trace's outermost calls (the step's), or None for no such trace."""
    try:
        return sum(float(call["elapsed_time"]) for call in trace["calls"] if call["depth"] == 0) or None
    except (TypeError, KeyError, ValueError):
        return None


def _status_lines(artifacts_dir):
    """The tasks' lines of :func:`read_status` that are what it writes (objects), others left out."""
    return {task: line for task, line in read_status(artifacts_dir).items() if isinstance(line, dict)}


def forget_status(artifacts_dir: str | Path, task: str) -> None:
    """Forget a task's last status and trace (its outputs were cleaned): "never run"."""
    status = read_status(artifacts_dir)
    if status.pop(task, None) is not None:
        write_file_atomic(status_path(artifacts_dir), to_json(status))
    Path(artifacts_dir).joinpath(*layout.trace_file(task)).unlink(missing_ok=True)


def read_trace(artifacts_dir: str | Path, task: str) -> dict[str, Any] | None:
    """The last trace of ``task`` (``{"task", "run", "calls"}``), or None."""
    try:
        return json.loads(Path(artifacts_dir).joinpath(*layout.trace_file(task)).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def read_traces(artifacts_dir: str | Path, tasks: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The last call trace of each task that has one, ``{task: [call, ...]}``."""
    traces = {task: read_trace(artifacts_dir, task) for task in tasks}
    return {task: data.get("calls", []) for task, data in traces.items() if data is not None}
