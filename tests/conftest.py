"""Session set-up and fixtures; the helpers are in ``support.py``."""

import atexit
import os
import shutil
import tempfile

import pytest
from support import make_project

# No test reads or fills the user's build cache; projects get their own (Project.cache).
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="tft_build-tests-cache-")
atexit.register(shutil.rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)  # not one dir per run left in /tmp
# No warm workers (tft_build.engine.warm) but in the tests of them: each project's would stay for minutes,
# about a GB each, and the suite makes dozens of projects.
os.environ["TFT_BUILD_WARM"] = "0"


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """A small project after a cold ``doit``; the finished process is ``.cold``."""
    project = make_project(tmp_path_factory.mktemp("pipeline"))
    project.cold = project.doit()
    return project
