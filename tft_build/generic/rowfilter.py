"""The row filter for data that needs none.

A row filter is called on a batch of rows (a mapping of column name to numpy
array) and returns a boolean mask; written with ``&`` (not ``and``), the same
code also takes one typed row and returns one bool, as serving does. The
taxi example's filter is :mod:`tft_build.examples.taxi.rowfilter`.
"""

from collections.abc import Mapping
from typing import Any


def keep_all(row: Mapping[str, Any]) -> bool:
    """Every row: the filter for data that needs none."""
    return True
