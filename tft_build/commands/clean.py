"""doit's ``clean`` with the project lock, refusing an artifacts dir that is not plainly tft_build's.

Installed as a doit command plugin under the built-in name. It first checks
that the artifacts dir is safe to empty (:mod:`tft_build.engine.safety`),
takes the project's lock like ``run``, and keeps the build cache, saying so.

The ``_execute`` signature repeats doit 0.37's (doit calls it by name).
"""

import sys

from doit.cmd_clean import Clean

from tft_build.commands.base import NO_WAIT, locked
from tft_build.engine.pipeline import project_config
from tft_build.engine.safety import check_clean_target
from tft_build.errors import TftBuildError


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
