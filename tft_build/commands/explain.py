"""``doit explain [TASK ...]``: which tasks ``doit`` would run, and why, running nothing.

A doit command plugin (entry point ``doit.COMMAND``) over
:func:`tft_build.engine.explain.explain`: one line a task (``will run``,
``will restore from cache``, ``may run``, ``up to date``), its reasons below it.
"""

from doit.cmd_base import DoitCmdBase
from doit.control import TaskControl
from doit.exceptions import InvalidCommand

from tft_build.commands.base import reader_gone
from tft_build.engine.explain import explain
from tft_build.engine.pipeline import project_config
from tft_build.report import history


class Explain(DoitCmdBase):
    """The doit command ``explain``."""

    name = "explain"
    doc_purpose = "list the tasks `doit` would run and why, without running anything"
    doc_usage = "[TASK ...]"
    doc_description = (
        "For TASKs (default: the default tasks) and what they depend on, says for each task "
        "'will run' with its reasons (changed files, settings and code, with a diff of changed "
        "functions; missing targets), 'will restore from cache' (the same, with a build of those "
        "inputs in the build cache), 'may run' (only if a task that runs first changes its "
        "output), or 'up to date'."
    )
    cmd_options = ()

    def _execute(self, pos_args=None):
        tasks = TaskControl(self.task_list).tasks
        selected = list(self.sel_tasks or tasks)
        unknown = [name for name in selected if name not in tasks]
        if unknown:
            raise InvalidCommand(f"explain: no task named {', '.join(unknown)}; `doit list` shows the tasks")
        cfg = project_config(tasks.values())
        failed = history.last_failed(cfg.artifacts_dir) if cfg is not None else set()
        with reader_gone():
            for name, (kind, reasons) in explain(tasks, self.dep_manager, selected, failed).items():
                self.outstream.write(f"{kind}: {name}\n")
                for reason in reasons:
                    self.outstream.write("  - " + reason.replace("\n", "\n    ") + "\n")
        return 0
