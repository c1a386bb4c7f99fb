"""``doit graph``: draw the task graph, coloured by what happened in the last run.

A doit command plugin; the drawing is :mod:`tft_build.report.graph`.
"""

from doit.cmd_base import DoitCmdBase

from tft_build.commands.base import project_tasks
from tft_build.report import graph, history


class Graph(DoitCmdBase):
    """The doit command ``graph``."""

    name = "graph"
    doc_purpose = "draw the task graph, coloured by what happened in the last run"
    doc_usage = "[-o FILE] [--format svg|png|dot] [--calls]"
    doc_description = (
        "Tasks are boxes coloured by their last run (ran, up to date, failed, never run) with "
        "its duration; data files are notes; edges carry the files that link tasks. --calls adds "
        "each task's last call trace. Without graphviz's dot, writes the .dot source."
    )
    cmd_options = (
        {"name": "output", "short": "o", "long": "output", "type": str, "default": "tasks.svg",
         "help": "file to write [default: %(default)s]"},
        {"name": "fmt", "long": "format", "type": str, "default": "", "choices": [(f, "") for f in graph.FORMATS],
         "help": "svg, png or dot [default: from the file's suffix]"},
        {"name": "calls", "long": "calls", "type": bool, "default": False,
         "help": "draw each task's last call trace inside it"},
    )

    def _execute(self, output, fmt="", calls=False):
        cfg, tasks = project_tasks("graph", self.task_list)
        traces = history.read_traces(cfg.artifacts_dir, tasks) if calls else None
        status = history.read_status(cfg.artifacts_dir)
        picture = graph.task_graph(graph.task_infos(tasks.values()), status, cfg.project_dir, traces)
        written = graph.write_picture(picture, output, fmt or None)
        self.outstream.write(f"wrote {written}\n")
        return 0
