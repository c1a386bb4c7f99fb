"""tft_build: an incremental build tool for TensorFlow Transform pipelines.

Project code (tft_build itself, and the user's modules once the tasks load)
is imported through :mod:`tft_build.engine.sourceguard`, so that what runs is
exactly the source that the build record fingerprints.
"""

import importlib

from tft_build import former
from tft_build.engine import sourceguard

sourceguard.install()


def __getattr__(name):
    """``from tft_build import models`` (a module that moved): the module it moved to."""
    moved = former.MODULES.get(f"{__name__}.{name}")
    if moved is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(moved)
