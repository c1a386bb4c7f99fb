"""The one timestamp rule: what csvio reads, the exact form that inference and arrowcsv want, the error."""

import pytest

from tft_build.errors import DataError
from tft_build.io import timestamps


@pytest.mark.parametrize("text, read, exact", [
    ("2014-05-01 08:15:00", True, True),
    ("2014-05-01 08:15:00 UTC", True, True),
    ("2012-02-29 23:59:59", True, True),
    ("2014-5-1 08:15:00", True, False),          # strptime reads it; not the exact form
    ("2013-02-29 00:00:00", False, False),       # no such day
    ("2014-05-01 08:15:60", False, False),
    ("2014-05-01 08:15:00 CET", False, False),
    ("2014-05-01T08:15:00", False, False),
    (" 2014-05-01 08:15:00", False, False),
    ("2014-05-01", False, False),
])
def test_read_and_exact(text, read, exact):
    assert timestamps.is_timestamp(text) is read
    assert timestamps.is_exact_timestamp(text) is exact


def test_check_names_where_and_gives_an_example():
    assert timestamps.check_timestamp("f.csv:2: column 't'", "2014-05-01 08:15:00") == "2014-05-01 08:15:00"
    with pytest.raises(DataError) as err:
        timestamps.check_timestamp("f.csv:2: column 't'", "today")
    assert str(err.value) == "f.csv:2: column 't': 'today' is not a timestamp like '2014-05-01 08:15:00 UTC'"
