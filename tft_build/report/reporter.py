"""doit's console reporter, plus the run's record, its timing table and the report.

:class:`RunReporter` records, for every task of a run, ran / restored (from the
build cache) / up to date / failed and the seconds it took; when the run ends
it appends them to the history (:mod:`tft_build.report.history`), prints a
compact timing table that compares each task with its previous run and flags
slowdowns, and writes the HTML report when a task ran.
"""

import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from doit.exceptions import BaseFail
from doit.reporter import ConsoleReporter
from doit.task import Task

from tft_build.config.settings import Config
from tft_build.engine import buildcache
from tft_build.report import history
from tft_build.report.history import FAILED, RESTORED, UP_TO_DATE
from tft_build.report.timings import timing_row, timing_table


def reporter_for(cfg: Config, run: str) -> type["RunReporter"]:
    """A :class:`RunReporter` class bound to the config and the run's id (doit instantiates it)."""
    return type("TftBuildReporter", (RunReporter,), {"cfg": cfg, "run": run})


class RunReporter(ConsoleReporter):
    """doit's console output, plus the run's record, timing table and report."""

    cfg = None
    run = ""
    desc = "console output with a timing table and the tft_build report"

    def __init__(self, outstream: TextIO, options: Mapping[str, Any]) -> None:
        super().__init__(outstream, options)
        self.tasks = {}
        self.started = {}
        self.results = {}  # task -> (status, seconds), in the order they finished

    def initialize(self, tasks: Mapping[str, Task], selected_tasks: Sequence[str]) -> None:
        self.tasks = tasks

    def write(self, text: str) -> None:
        """doit's, flushed: with tasks side by side, workers write to the same output, and a line
        kept in this process's buffer would come out after what the task printed."""
        super().write(text)
        self.outstream.flush()

    def execute_task(self, task: Task) -> None:
        super().execute_task(task)
        self.started[task.name] = time.perf_counter()

    def add_success(self, task: Task) -> None:
        super().add_success(task)
        self._finish(task, RESTORED if task.values.get(buildcache.RESTORED) else "ran")

    def add_failure(self, task: Task, fail: BaseFail) -> None:
        super().add_failure(task, fail)
        self._finish(task, FAILED)

    def skip_uptodate(self, task: Task) -> None:
        super().skip_uptodate(task)
        self.results[task.name] = (UP_TO_DATE, None)

    def _finish(self, task, status):
        started = self.started.get(task.name)
        seconds = time.perf_counter() - started if started is not None else None
        self.results[task.name] = (status, seconds)

    def complete_run(self) -> None:
        super().complete_run()
        if not self.results:
            return
        try:
            rows = record_run(self.cfg.artifacts_dir, self.run, self.results)
            self.write(timing_table(rows) + "\n")
            ran = any(status != UP_TO_DATE for status, _ in self.results.values())
            if ran or not history.report_path(self.cfg.artifacts_dir).exists():
                write_reports(self.cfg, self.tasks, rows)
        except Exception as err:
            sys.stderr.write(f"tft_build: could not write the run report: {err}\n")


def record_run(
    artifacts_dir: str | Path, run: str, results: Mapping[str, tuple[str, float | None]]
) -> list[dict[str, Any]]:
    """Append the run's ``{task: (status, seconds)}`` to the history; its timing rows,
    each task against its previous run."""
    before = history.read_history(artifacts_dir)
    return [timing_row(line, before) for line in history.append_run(artifacts_dir, run, results)]


def write_reports(cfg: Config, tasks: Mapping[str, Task], rows: Sequence[Mapping[str, Any]]) -> None:
    """The HTML report, with the task graph as it stands after this run and the builds in the cache.

    A run where every task was up to date changes nothing that the report
    shows but its timing rows, so the report is only rewritten when a task
    ran (or failed), or when there is none: a no-op ``doit`` stays fast.
    """
    from tft_build.report import graph, html_report  # only after a run: graphviz and the page are not small

    status = history.read_status(cfg.artifacts_dir)
    picture = graph.task_graph(graph.task_infos(tasks.values()), status, cfg.project_dir)
    html_report.write_report(cfg.artifacts_dir, graph.svg_of(picture), rows, cfg)
