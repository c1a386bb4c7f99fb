"""The one rule for dates and timestamps: the built-in forms, a column's format, the UTC time, the errors."""

import datetime
import re

import pytest

from tft_build.errors import DataError
from tft_build.io import timestamps

UTC = datetime.datetime


@pytest.mark.parametrize("text, expected", [
    ("2014-05-01 08:15:00", UTC(2014, 5, 1, 8, 15)),
    ("2014-05-01 08:15:00 UTC", UTC(2014, 5, 1, 8, 15)),           # the taxi data
    ("2014-05-01T08:15:00Z", UTC(2014, 5, 1, 8, 15)),
    ("2014-05-01T08:15:00UTC", UTC(2014, 5, 1, 8, 15)),
    ("2014-05-01T08:15", UTC(2014, 5, 1, 8, 15)),                  # no seconds
    ("2014-05-01 08:15:00.5+02:00", UTC(2014, 5, 1, 6, 15)),       # a fraction, dropped; an offset, subtracted
    ("2014-05-01 08:15:00,123456789 +0200", UTC(2014, 5, 1, 6, 15)),
    ("2014-05-01T08:15:00-05", UTC(2014, 5, 1, 13, 15)),
    ("2012-01-01 00:30:00+02:00", UTC(2011, 12, 31, 22, 30)),      # into the year before
    ("2016-12-31T23:59:59-05:00", UTC(2017, 1, 1, 4, 59, 59)),     # into the year after
    ("2012-03-01T00:10:00+01:00", UTC(2012, 2, 29, 23, 10)),       # back into a leap day
    ("2012-02-29 23:59:59", UTC(2012, 2, 29, 23, 59, 59)),
    ("2000-02-29", UTC(2000, 2, 29)),                              # a date is a timestamp at midnight
    ("2012/01/01", UTC(2012, 1, 1)),
    ("2012/01/01 08:15:00Z", UTC(2012, 1, 1, 8, 15)),
    ("2014-5-1 8:15:00", UTC(2014, 5, 1, 8, 15)),                  # no zero padding
])
def test_timestamps_read_as_their_utc_time(text, expected):
    assert timestamps.parse(text, timestamps.forms("timestamp")) == expected


@pytest.mark.parametrize("text", [
    "2013-02-29 00:00:00", "1900-02-29", "2014-04-31", "2014-00-10", "2014-13-01", "0000-01-01",  # no such day
    "2014-05-01 24:00:00", "2014-05-01 08:60:00", "2014-05-01 08:15:60",  # no such time
    "2014-05-01 08:15:00+24:00", "2014-05-01 08:15:00+02:60",  # no such offset
    "0001-01-01T00:00:00+01:00",  # before the calendar, in UTC
    "2014-05-01 08:15:00 CET", "2014-05-01 08:15:00+2", "2014-05-01Z",  # zones it does not know; no time
    " 2014-05-01 08:15:00", "2014-05-01 08:15:00 ", "2014-05-01  08:15", "2014-05-01t08:15",
    "2014-05/01", "14-05-01", "20140501", "01/05/2014", "2014-05-01 08", "2014-005-01", "today", "",
    "\u0662\u0660\u0661\u0664-05-01",  # other scripts' digits (Python's \d would take them, RE2's not)
])
def test_not_timestamps(text):
    assert timestamps.parse(text, timestamps.forms("timestamp")) is None


@pytest.mark.parametrize("text, expected", [
    ("2012-01-01", UTC(2012, 1, 1)), ("2012/01/01", UTC(2012, 1, 1)), ("2012/2/29", UTC(2012, 2, 29)),
    ("2012-01-01 08:15:00", None), ("2012-01-01T00:00Z", None), ("2011/02/29", None), ("2012-01", None),
])
def test_dates(text, expected):
    assert timestamps.parse(text, timestamps.forms("date")) == expected


@pytest.mark.parametrize("type_, fmt, text, expected", [
    ("timestamp", "%d.%m.%Y %H:%M", "31.12.2015 23:05", UTC(2015, 12, 31, 23, 5)),
    ("timestamp", "%d.%m.%Y %H:%M", "2015-12-31 23:05", None),        # a format replaces the built-in forms
    ("timestamp", "%Y%m%dT%H%M%S%z", "20150102T030405+0100", UTC(2015, 1, 2, 2, 4, 5)),
    ("timestamp", "%m/%d/%Y %I", "01/02/2015 3", "error"),            # %I is not known
    ("timestamp", "%H:%M:%S.%f on %Y-%m-%d", "03:04:05.25 on 2015-01-02", UTC(2015, 1, 2, 3, 4, 5)),
    ("timestamp", "100%% %Y", "100% 2015", UTC(2015, 1, 1)),          # %% is a percent sign; month, day are 1
    ("timestamp", "(%Y) [%m] *%d*", "(2015) [2] *3*", UTC(2015, 2, 3)),  # literal text, whatever it is
    ("date", "%d/%m/%Y", "29/02/2016", UTC(2016, 2, 29)),
    ("date", "%d/%m/%Y", "29/02/2015", None),
    ("date", "%d/%m/%Y %H", "29/02/2016 3", "error"),                 # a date has no hour
    ("date", "%d %m", "29 02", "error"),                               # no year
    ("date", "%Y %Y", "2015 2015", "error"),
    ("date", "%Y %", "2015 %", "error"),
])
def test_a_column_format(type_, fmt, text, expected):
    if expected == "error":
        with pytest.raises(ValueError):
            timestamps.forms(type_, fmt)
    else:
        assert timestamps.parse(text, timestamps.forms(type_, fmt)) == expected


def test_every_form_has_at_most_nine_groups_each_named_once():
    """TensorFlow's regex_replace takes groups \\1-\\9 only, and each field is read from its own group."""
    custom = [timestamps.forms("timestamp", "%Y-%m-%d %H:%M:%S.%f%z"), timestamps.forms("date", "%Y%m%d")]
    for pattern in [*timestamps.forms("date"), *timestamps.forms("timestamp"), *(p for f in custom for p in f)]:
        assert pattern.groups == len(pattern.groupindex) <= 9
        assert set(pattern.groupindex) <= set(timestamps.FIELDS)
        assert not re.search(r"\\d|\(\?[=!<]|\\[1-9]", pattern.pattern)  # no \d, lookaround or backreference


def test_check_names_where_and_gives_an_example():
    assert timestamps.check("f.csv:2: column 't'", "2014-05-01 08:15:00", "timestamp") == "2014-05-01 08:15:00"
    with pytest.raises(DataError) as err:
        timestamps.check("f.csv:2: column 't'", "today", "timestamp")
    assert str(err.value) == (
        "f.csv:2: column 't': 'today' is not a timestamp like '2014-05-01 08:15:00 UTC' or '2014-05-01T08:15:00Z' "
        "(set the column's format for other forms)"
    )
    with pytest.raises(DataError, match=r"^f.csv:3: column 'd': '2014-05-01' is not a date in the column's format "
                                        r"'%d\.%m\.%Y'$"):
        timestamps.check("f.csv:3: column 'd'", "2014-05-01", "date", "%d.%m.%Y")
