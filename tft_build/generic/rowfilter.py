"""The row filter for data that needs none, and a test for rows without a label.

A row filter is called on a batch of rows (a mapping of column name to numpy
array) and returns a boolean mask; written with ``&`` (not ``and``), the same
code also takes one typed row and returns one bool, as serving does. The
taxi example's filter is :mod:`tft_build.examples.taxi.rowfilter`.
"""

from collections.abc import Mapping
from typing import Any

import numpy as np


def keep_all(row: Mapping[str, Any]) -> bool:
    """Every row: the filter for data that needs none."""
    return True


def has_value(values: Any) -> Any:
    """Where ``values`` (one value or a numpy array) hold a value: not ``nan`` (numbers), not ``""`` (text).

    An optional label reads a missing value as nan or "" (``tft_build.config.schema.NO_LABEL``);
    a row filter keeps ``has_value(row[label])`` to learn only from labeled rows.
    """
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return ~np.isnan(values)
    return (values != "") & (values != b"")
