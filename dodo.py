"""doit file of tft_build: the tasks come from the config (see tft_build/tasks.py).

`doit list --all` lists them; `doit` builds the default tasks; `doit clean`
removes the artifacts.
"""

from tft_build.tasks import load_tasks

DOIT_CONFIG, _creators = load_tasks()
globals().update(_creators)
