"""tft_build for any data: preprocessing by column type, the default model, no row filter.

The names a user's ``preprocessing_fn`` uses, as ``generic.numeric(...)``
after ``from tft_build import generic`` (what ``tft-tasks init-config``
writes), are here; they live in :mod:`tft_build.generic.preprocessing`, and
``generic.has_value`` (a row filter's test for a label) in :mod:`tft_build.generic.rowfilter`.
Importing them loads TensorFlow: this room is only reached from the steps.
"""

from tft_build.generic.preprocessing import (  # noqa: F401 -- the names users' modules call
    categorical,
    category,
    hour_weekday_days,
    numeric,
    parse_time,
    parse_timestamp,
    preprocessing_fn,
    seasons,
    time_parts,
)
from tft_build.generic.rowfilter import has_value  # noqa: F401
