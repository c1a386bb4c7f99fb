"""``tft-tasks``: the seed's command line, running the tasks through doit.

``tft-tasks --task TASK [--task TASK ...] [--visualize_tasks FILE]
[--print_performance_metrics]`` runs the tasks with their prerequisites,
incrementally (what is up to date does not run), then draws the task graph
with each task's call trace into FILE and prints the timing tables.
``--task clean_directory`` cleans the artifacts (``doit clean``).
``tft-tasks init-config DATA.csv --label COL`` writes a project skeleton for
the user's own data (:mod:`tft_build.commands.init_config`).
"""

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from doit.cmd_base import ModuleTaskLoader
from doit.doit_cmd import DoitMain

from tft_build.commands import init_config as initconfig
from tft_build.errors import TftBuildError
from tft_build.report import history, timings
from tft_build.tasks import load_tasks

CLEAN = "clean_directory"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["init-config"]:
        return initconfig.main(argv[1:])
    try:
        doit_config, creators = load_tasks(".")
    except TftBuildError as err:
        print(f"tft-tasks: error: {err}", file=sys.stderr)
        return 2
    valid = [name[len("task_"):] for name in creators] + [CLEAN]
    args = parser(valid).parse_args(argv)
    unknown = [task for task in args.task if task not in valid]
    if unknown:
        print(f"tft-tasks: error: unknown task {unknown[0]!r}; valid tasks: {', '.join(valid)}", file=sys.stderr)
        return 2
    namespace = {"DOIT_CONFIG": doit_config, **creators}
    status = 0
    no_wait = ["--no-wait"] if args.no_wait else []
    if CLEAN in args.task:
        status = doit(namespace, ["clean", *no_wait])
    selected = [task for task in args.task if task != CLEAN]
    if selected and status == 0:
        status = doit(namespace, ["run", *no_wait, *selected])
    artifacts_dir = doit_config["reporter"].cfg.artifacts_dir
    if args.visualize_tasks:
        doit(namespace, ["graph", "--calls", "-o", args.visualize_tasks])
    if args.print_performance_metrics:
        tasks = {name[len("task_"):]: creator() for name, creator in creators.items()}
        print(timings.calls_table(history.read_traces(artifacts_dir, with_prerequisites(tasks, selected))))
    return status


def parser(valid: Iterable[str]) -> argparse.ArgumentParser:
    """The argument parser; ``-h`` lists the valid tasks."""
    result = argparse.ArgumentParser(
        prog="tft-tasks",
        description="Run tft_build pipeline tasks (with their prerequisites, incrementally) through doit.",
        epilog="valid tasks: " + ", ".join(valid) + ". Start a project for your own CSV data with "
        "`tft-tasks init-config DATA.csv --label COLUMN` (see `tft-tasks init-config -h`).",
    )
    result.add_argument("--task", action="append", required=True, metavar="TASK",
                        help="a task to run (repeatable); clean_directory removes the artifacts")
    result.add_argument("--visualize_tasks", metavar="FILE",
                        help="draw the task graph with each task's call trace into FILE (.svg, .png or .dot)")
    result.add_argument("--no-wait", action="store_true",
                        help="fail at once if another run holds the project's lock, instead of waiting")
    result.add_argument("--print_performance_metrics", action="store_true",
                        help="print each task's last call trace: caller, called, elapsed time")
    return result


def doit(namespace: Mapping[str, Any], args: list[str]) -> int:
    """Run doit with these tasks and arguments; its exit status."""
    return DoitMain(ModuleTaskLoader(namespace)).run(args)


def with_prerequisites(tasks: Mapping[str, Mapping[str, Any]], selected: Iterable[str]) -> list[str]:
    """The selected tasks and, before them, every task whose targets they read."""
    producers = {target: name for name, task in tasks.items() for target in task.get("targets", [])}
    order = []

    def visit(name: str) -> None:
        if name not in order:
            for dep in tasks[name].get("file_dep", []):
                if dep in producers:
                    visit(producers[dep])
            order.append(name)

    for name in selected:
        visit(name)
    return order
