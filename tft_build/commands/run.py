"""doit's ``run`` with the project lock, Ctrl-C handling and a build record of what ran.

Installed as a doit command plugin under the built-in name, so ``doit`` and
``doit TASK`` get it. It takes the project's lock (:mod:`tft_build.engine.lock`),
waiting for another run or, with ``--no-wait``, failing at once. Ctrl-C stops a
run with a one-line message; doit saves the state of the tasks that finished
before it. A task's files are saved as its snapshot saw them
(:func:`tft_build.engine.snapshot.recording`). ``-q`` turns the steps'
progress lines off (:mod:`tft_build.engine.progress`): only their summaries
and the timing table are left. Independent tasks run side by side in worker
processes (``-n``, by default one per core: :mod:`tft_build.engine.parallel`);
``-n 0`` runs them one after the other in the ``doit`` process.

The ``_execute`` signature repeats doit 0.37's (doit calls it by name).
"""

import sys

from doit.cmd_run import Run

from tft_build.commands.base import NO_WAIT, locked
from tft_build.engine import interrupt, parallel, progress, snapshot, warm
from tft_build.engine.pipeline import project_config
from tft_build.errors import TftBuildError
from tft_build.report import history

INTERRUPTED = 130  # the shell's status for a Ctrl-C
QUIET = {
    "name": "quiet",
    "short": "q",
    "long": "quiet",
    "type": bool,
    "default": False,
    "help": "no progress lines from the steps; only their summaries and the timing table",
}


class LockedRun(Run):
    """doit ``run``, one at a time per project."""

    cmd_options = Run.cmd_options + (NO_WAIT, QUIET)

    def _execute(self, outfile, verbosity=None, always=False, continue_=False, reporter="console",
                 num_process=0, par_type="process", single=False, auto_delayed_regex=False,
                 force_verbosity=False, failure_verbosity=0, pdb=False, no_wait=False, quiet=False):
        cfg = project_config(self.task_list)
        if cfg is not None:
            self.dep_manager = snapshot.recording(self.dep_manager)
            if not parallel.forking_is_safe():
                num_process = 0
        seconds = history.last_seconds(cfg.artifacts_dir) if cfg is not None else {}  # orders the ready tasks
        try:
            with locked(cfg, no_wait), interrupt.remembered(), progress.quieted(quiet), \
                    parallel.workers(prefetch=cfg is None or not warm.enabled(cfg), seconds=seconds):
                return super()._execute(
                    outfile, verbosity, always, continue_, reporter, num_process, par_type, single,
                    auto_delayed_regex, force_verbosity, failure_verbosity, pdb,
                )
        except TftBuildError as err:
            sys.stderr.write(f"tft_build: {err}\n")
            return 2
        except KeyboardInterrupt:
            sys.stderr.write("tft_build: interrupted; the tasks that finished are saved, run `doit` to go on\n")
            return INTERRUPTED
