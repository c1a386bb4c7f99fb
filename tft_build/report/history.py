"""The run history: what each task did in each run, kept under ``artifacts/reports/``.

``runs.jsonl`` has one line per task per run (status, seconds, the run's id);
``status.json`` each task's last status, for pictures; ``traces/<task>.json``
the call trace of its last run (written by :mod:`tft_build.engine.trace`).
Written by the reporter after a run, read by the timing table, the task
graph, the HTML report and ``doit cache``.
"""

import datetime
import json
from pathlib import Path

from tft_build import layout
from tft_build.io.atomic import write_file_atomic
from tft_build.io.manifest import to_json

NEVER_RUN = "never run"
RESTORED = "restored"  # from the build cache instead of run
UP_TO_DATE = "up to date"


def now():
    """A run's id: the local time it started, to the second."""
    return datetime.datetime.now().isoformat(timespec="seconds")


def runs_path(artifacts_dir):
    return Path(artifacts_dir) / layout.REPORTS / layout.RUNS_FILE


def status_path(artifacts_dir):
    return Path(artifacts_dir) / layout.REPORTS / layout.STATUS_FILE


def append_run(artifacts_dir, run, results):
    """Append the run's ``{task: (status, seconds)}`` to the history and update each task's
    last status; the history's new lines."""
    lines = [{"run": run, "task": task, "status": status, "seconds": seconds} for task, (status, seconds) in results.items()]
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


def read_history(artifacts_dir):
    """Every recorded task run, oldest first."""
    try:
        text = runs_path(artifacts_dir).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    history = []
    for line in text.splitlines():
        try:
            history.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a killed run
    return history


def read_status(artifacts_dir):
    """Each task's last recorded status, ``{task: {"status", "seconds", "run"}}``."""
    try:
        return json.loads(status_path(artifacts_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def forget_status(artifacts_dir, task):
    """Forget a task's last status and trace (its outputs were cleaned): "never run"."""
    status = read_status(artifacts_dir)
    if status.pop(task, None) is not None:
        write_file_atomic(status_path(artifacts_dir), to_json(status))
    Path(artifacts_dir).joinpath(*layout.trace_file(task)).unlink(missing_ok=True)


def read_trace(artifacts_dir, task):
    """The last trace of ``task`` (``{"task", "run", "calls"}``), or None."""
    try:
        return json.loads(Path(artifacts_dir).joinpath(*layout.trace_file(task)).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def read_traces(artifacts_dir, tasks):
    """The last call trace of each task that has one, ``{task: [call, ...]}``."""
    traces = {task: read_trace(artifacts_dir, task) for task in tasks}
    return {task: data.get("calls", []) for task, data in traces.items() if data is not None}
