"""What each run did: task statuses, durations, history, and the report after a run.

:class:`RunReporter` is doit's console reporter plus bookkeeping. For every
task of a run it records ran / restored (from the build cache) / up to date /
failed and the seconds it took;
when the run ends it appends them to ``reports/runs.jsonl`` (the history),
updates ``reports/status.json`` (each task's last status, for pictures),
prints a compact timing table that compares each task with its previous run
and flags slowdowns, and writes the HTML report when a task ran.
"""

import datetime
import json
import sys
import time
from pathlib import Path

from doit.reporter import ConsoleReporter
from tabulate import tabulate

from tft_build import buildcache
from tft_build.atomic import write_file_atomic
from tft_build.manifest import to_json

SLOWDOWN = 0.20  # flag a task that ran this much slower than its previous run
NEVER_RUN = "never run"
RESTORED = "restored"  # from the build cache instead of run
_current_run = None


def current_run():
    """The id of the run in progress (its start time), set by the reporter."""
    return _current_run or now()


def now():
    return datetime.datetime.now().isoformat(timespec="seconds")


def reporter_for(cfg):
    """A :class:`RunReporter` class bound to the config (doit instantiates it)."""
    return type("TftBuildReporter", (RunReporter,), {"cfg": cfg})


class RunReporter(ConsoleReporter):
    """doit's console output, plus the run's record, timing table and report."""

    cfg = None
    desc = "console output with a timing table and the tft_build report"

    def __init__(self, outstream, options):
        super().__init__(outstream, options)
        self.tasks = {}
        self.started = {}
        self.results = {}  # task -> (status, seconds), in the order they finished

    def initialize(self, tasks, selected_tasks):
        global _current_run
        _current_run = now()
        self.tasks = tasks

    def execute_task(self, task):
        super().execute_task(task)
        self.started[task.name] = time.perf_counter()

    def add_success(self, task):
        super().add_success(task)
        self._finish(task, RESTORED if task.values.get(buildcache.RESTORED) else "ran")

    def add_failure(self, task, fail):
        super().add_failure(task, fail)
        self._finish(task, "failed")

    def skip_uptodate(self, task):
        super().skip_uptodate(task)
        self.results[task.name] = ("up to date", None)

    def _finish(self, task, status):
        started = self.started.get(task.name)
        seconds = time.perf_counter() - started if started is not None else None
        self.results[task.name] = (status, seconds)

    def complete_run(self):
        super().complete_run()
        if not self.results:
            return
        try:
            rows = record_run(self.cfg.artifacts_dir, current_run(), self.results)
            self.write(timing_table(rows) + "\n")
            if any(status != "up to date" for status, _ in self.results.values()) or not report_path(self.cfg).exists():
                write_reports(self.cfg, self.tasks, rows)
        except Exception as err:  # noqa: BLE001 -- a report must never fail a build
            sys.stderr.write(f"tft_build: could not write the run report: {err}\n")


def record_run(artifacts_dir, run, results):
    """Append the run to the history, update each task's last status; the timing rows."""
    history = read_history(artifacts_dir)
    lines = [{"run": run, "task": task, "status": status, "seconds": seconds} for task, (status, seconds) in results.items()]
    path = Path(artifacts_dir) / "reports" / "runs.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(line, sort_keys=True) + "\n" for line in lines)
    status = read_status(artifacts_dir)
    for line in lines:
        if line["status"] != "up to date" or line["task"] not in status:
            status[line["task"]] = line
        else:
            status[line["task"]] = {**status[line["task"]], "status": "up to date", "run": run}
    write_file_atomic(Path(artifacts_dir) / "reports" / "status.json", to_json(status))
    return [timing_row(line, history) for line in lines]


def timing_row(line, history):
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


def timing_table(rows):
    """The compact table printed after every run."""
    table = [
        [r["task"], r["status"], _seconds(r["seconds"]), _seconds(r["previous"]), r["change"]]
        for r in rows
    ]
    return tabulate(table, headers=["task", "status", "seconds", "previous", "change"], disable_numparse=True)


def _seconds(value):
    return "" if value is None else f"{value:.2f}"


def read_history(artifacts_dir):
    """Every recorded task run, oldest first."""
    path = Path(artifacts_dir) / "reports" / "runs.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
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
        return json.loads((Path(artifacts_dir) / "reports" / "status.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def forget_status(artifacts_dir, task):
    """Forget a task's last status and trace (its outputs were cleaned): "never run"."""
    status = read_status(artifacts_dir)
    if status.pop(task, None) is not None:
        write_file_atomic(Path(artifacts_dir) / "reports" / "status.json", to_json(status))
    (Path(artifacts_dir) / "traces" / f"{task}.json").unlink(missing_ok=True)


def read_traces(artifacts_dir, tasks):
    """The last call trace of each task that has one, ``{task: [call, ...]}``."""
    traces = {}
    for task in tasks:
        try:
            data = json.loads((Path(artifacts_dir) / "traces" / f"{task}.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            continue
        traces[task] = data.get("calls", [])
    return traces


def report_path(cfg):
    return cfg.artifacts_dir / "reports" / "index.html"


def write_reports(cfg, tasks, rows):
    """The HTML report, with the task graph as it stands after this run and the builds in the cache.

    A run where every task was up to date changes nothing that the report
    shows but its timing rows, so the report is only rewritten when a task
    ran (or failed), or when there is none: a no-op ``doit`` stays fast.
    """
    from tft_build import graph, html_report  # only after a run

    picture = graph.task_graph(graph.task_infos(tasks.values()), read_status(cfg.artifacts_dir), cfg.project_dir)
    html_report.write_report(cfg.artifacts_dir, graph.svg_text(picture), rows, cfg)


def calls_table(traces):
    """The seed's performance table: caller, called, elapsed time, in call order per task."""
    table = [
        [task, call["caller"], call["called"], f"{call['elapsed_time']:.3f}"]
        for task, calls in traces.items()
        for call in sorted(calls, key=lambda c: c["start"])
    ]
    return tabulate(table, headers=["task", "caller", "called", "elapsed_time"], disable_numparse=True)
