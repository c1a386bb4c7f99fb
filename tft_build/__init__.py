"""tft_build: an incremental build tool for TensorFlow Transform pipelines.

Project code (tft_build itself, and the user's modules once the tasks load)
is imported through :mod:`tft_build.sourceguard`, so that what runs is
exactly the source that the build record fingerprints.
"""

from tft_build import sourceguard

sourceguard.install()
