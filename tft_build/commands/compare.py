"""``doit compare [MODEL ...]``: the builds in the build cache side by side, with what differed.

A thin command over :func:`tft_build.report.compare.compare`, which the HTML
report shows too.
"""

from doit.cmd_base import DoitCmdBase
from doit.exceptions import InvalidCommand
from tabulate import tabulate

from tft_build.commands.base import project_tasks
from tft_build.config.settings import Config
from tft_build.report.compare import LAST, compare, text


class Compare(DoitCmdBase):
    """The doit command ``compare``."""

    name = "compare"
    doc_purpose = "show the metrics of the builds in the build cache side by side, with what differed"
    doc_usage = "[--last N] [MODEL ...]"
    doc_description = (
        "For each MODEL (default: every model; a task name such as train_and_predict_embedding_model "
        "works too), a table of its last builds in the build cache, newest first, the one in the "
        "workspace marked: its metrics, then the settings, code, packages and data that differ "
        "between those builds."
    )
    cmd_options = (
        {"name": "last", "long": "last", "type": int, "default": LAST,
         "help": "how many builds of each model to show, newest first, besides the one in the workspace "
                 "[default: %(default)s]"},
    )

    def _execute(self, last=LAST, pos_args=None):
        cfg, _ = project_tasks("compare", self.task_list)
        if last < 1:
            raise InvalidCommand("compare: --last takes a number of builds, 1 or more")
        tables, notes = compare(cfg, [model_named(cfg, name) for name in pos_args or []], last)
        for line in notes:
            self.outstream.write(f"compare: {line}\n")
        for model, headers, rows in tables:
            self.outstream.write(f"\n{model}: {len(headers) - 1} build(s), newest first\n")
            cells = [[row[0]] + [text(value) for value in row[1:]] for row in rows]
            self.outstream.write(tabulate(cells, headers=headers, disable_numparse=True) + "\n")
        return 0


def model_named(cfg: Config, name: str) -> str:
    """The model a command-line name means: a model's name, or one of its task names."""
    models = [model for model, _ in cfg.models]
    for model in models:
        if name in (model, f"train_{model}_model", f"train_and_predict_{model}_model"):
            return model
    raise InvalidCommand(f"compare: no model named {name}; the models are {', '.join(models)}")
