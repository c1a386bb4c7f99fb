"""The raw data's timestamp text: ``YYYY-MM-DD HH:MM:SS``, then nothing or `` UTC``, as in the taxi data.

A timestamp column's values stay text (TF gets a string); they are only
checked to name a real time. The one rule lives here, for its three users:

- :mod:`~tft_build.io.csvio`, the reader of record, accepts what
  :func:`is_timestamp` accepts: ``strptime`` reads the date and time, so a
  field may lack its zero padding (``2014-5-1 08:15:00``);
- :mod:`~tft_build.io.arrowcsv` checks whole Arrow columns against the exact,
  zero-padded form (:data:`PATTERN`, :data:`FIELDS`), never looser than csvio;
- ``tft-tasks init-config`` (:mod:`~tft_build.config.infer`) types a column
  as timestamp only when every value has the exact form
  (:func:`is_exact_timestamp`), so that what it infers is unmistakable.
"""

import datetime
import re

from tft_build.errors import DataError

FORMAT = "%Y-%m-%d %H:%M:%S"  # strptime's format of the date and time, the first 19 characters
SUFFIXES = ("", " UTC")  # what may follow them
EXAMPLE = "2014-05-01 08:15:00 UTC"
# The exact form, zero-padded; no anchors, so that both Python's re and pyarrow's RE2 can use it.
PATTERN = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: UTC)?"
FIELDS = ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19))  # year, month, day, hour, minute, second in it
_EXACT = re.compile(PATTERN)


def is_timestamp(text: str) -> bool:
    """Whether ``text`` is a timestamp as csvio reads one: a real date and time, then a suffix."""
    if text[19:] not in SUFFIXES:
        return False
    try:
        datetime.datetime.strptime(text[:19], FORMAT)
    except ValueError:
        return False
    return True


def is_exact_timestamp(text: str) -> bool:
    """Whether ``text`` is a timestamp in the exact, zero-padded form of :data:`PATTERN`."""
    return bool(_EXACT.fullmatch(text)) and is_timestamp(text)


def check_timestamp(where: str, text: str) -> str:
    """``text`` as it is, once it is a timestamp; else a :class:`DataError` that starts with ``where``."""
    if not is_timestamp(text):
        raise DataError(f"{where}: {text!r} is not a timestamp like {EXAMPLE!r}")
    return text
