"""doit's ``run`` and ``clean`` with the project lock, Ctrl-C handling and safe cleaning.

Installed as doit command plugins under the built-in names, so ``doit``,
``doit TASK`` and ``doit clean`` get them. Both take the project's lock
(:mod:`tft_build.lock`), waiting for another run or, with ``--no-wait``,
failing at once. ``clean`` first checks that the artifacts dir is safe to
empty (:mod:`tft_build.safety`) and keeps the build cache, saying so. Ctrl-C stops a run with a one-line message;
doit saves the state of the tasks that finished before it. ``run`` saves a
task's files as its snapshot saw them (:func:`tft_build.snapshot.recording`).

The ``_execute`` signatures repeat doit 0.37's (doit calls them by name).
"""

import contextlib
import sys

from doit.cmd_clean import Clean
from doit.cmd_run import Run

from tft_build import interrupt, snapshot
from tft_build.errors import TftBuildError
from tft_build.lock import project_lock
from tft_build.safety import check_clean_target

NO_WAIT = {
    "name": "no_wait",
    "long": "no-wait",
    "type": bool,
    "default": False,
    "help": "fail at once when another run holds the project's lock, instead of waiting",
}
INTERRUPTED = 130  # the shell's status for a Ctrl-C


def project_config(tasks):
    """The tft_build config that the tasks were made from (in their ``meta``), or None.

    These commands replace doit's own for every doit project on the machine;
    a dodo.py that is not tft_build's gets doit's behaviour unchanged.
    """
    return next((t.meta["tft_build"] for t in tasks if t.meta and "tft_build" in t.meta), None)


@contextlib.contextmanager
def locked(cfg, no_wait):
    """The project's lock for a tft_build project; nothing for another doit project."""
    if cfg is None:
        yield
    else:
        with project_lock(cfg.artifacts_dir, wait=not no_wait):
            yield


class LockedRun(Run):
    """doit ``run``, one at a time per project."""

    cmd_options = Run.cmd_options + (NO_WAIT,)

    def _execute(self, outfile, verbosity=None, always=False, continue_=False, reporter="console",
                 num_process=0, par_type="process", single=False, auto_delayed_regex=False,
                 force_verbosity=False, failure_verbosity=0, pdb=False, no_wait=False):
        cfg = project_config(self.task_list)
        if cfg is not None:
            self.dep_manager = snapshot.recording(self.dep_manager)
        try:
            with locked(cfg, no_wait), interrupt.remembered():
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


class SafeClean(Clean):
    """doit ``clean``, refusing an artifacts dir that is not plainly tft_build's."""

    cmd_options = Clean.cmd_options + (NO_WAIT,)

    def _execute(self, dryrun, cleandep, cleanall, cleanforget, pos_args=None, no_wait=False):
        cfg = project_config(self.task_list)
        try:
            if cfg is not None:
                check_clean_target(cfg)
            with locked(cfg, no_wait):
                status = super()._execute(dryrun, cleandep, cleanall, cleanforget, pos_args)
            if cfg is not None and cfg.cache_dir:
                self.outstream.write(f"the build cache {cfg.cache_dir} is kept; `doit cache clear` empties it\n")
            return status
        except TftBuildError as err:
            sys.stderr.write(f"tft_build: {err}\n")
            return 2
