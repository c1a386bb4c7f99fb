"""The slice function for data that needs none: the metrics are sliced on raw columns only.

A ``slice_fn`` takes the clean eval rows as columns (name -> numpy array) and returns more named numpy
columns, one value per row, that the ``slices`` setting may name beside the raw columns. The taxi
example's is :mod:`tft_build.examples.taxi.slices`.
"""

from collections.abc import Mapping

import numpy as np


def no_columns(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """No columns of its own: ``slices`` names raw columns."""
    return {}
