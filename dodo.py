"""doit file of tft_build: the tasks come from the config (see tft_build/tasks.py).

`doit list --all` lists them; `doit` builds the default tasks; `doit clean`
removes the artifacts; `doit explain` says what would run and why.
"""

from tft_build.tasks import dodo_globals

globals().update(dodo_globals())
