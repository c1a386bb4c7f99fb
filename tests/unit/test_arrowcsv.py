"""The Arrow CSV reader gives csvio's values, and csvio's errors, whatever the path."""

import itertools

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tft_build.config.schema import columns_from_pairs
from tft_build.errors import DataError
from tft_build.io import arrowcsv, timestamps
from tft_build.io.csvio import read_rows

COLUMNS = columns_from_pairs([("name", "string"), ("price", "float"), ("count", "int"), ("when", "timestamp")])
HEADER = "name,price,count,when\n"
ROW = "a{i},{i}.25,{i},2014-05-01 08:15:00 UTC\n"


def write(tmp_path, text):
    path = tmp_path / "d.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def arrow_rows(path, on_bad=None):
    return [row for batch in arrowcsv.read_batches(path, COLUMNS, on_bad) for row in batch.to_pylist()]


def csvio_rows(path, on_bad=None):
    return [row for _, row in read_rows(path, COLUMNS, on_bad)]


@pytest.mark.parametrize("text", [
    HEADER + "".join(ROW.format(i=i) for i in range(50)),
    "\ufeff" + (HEADER + '"x, y",1.5,2,2012-02-29 23:59:59\n').replace("\n", "\r\n"),
    HEADER + "a, 1.5 ,+2, 2014-05-01 08:15:00 UTC \n",  # padding: csvio strips, pyarrow differs
    HEADER + '"multi\nline",1,2,2014-05-01 08:15:00\n',
    HEADER,
    "".join(ROW.format(i=i) for i in range(5)),  # no header: header = "auto" reads the first row as data
])
def test_same_rows_as_csvio(tmp_path, text):
    path = write(tmp_path, text)
    assert arrow_rows(path) == csvio_rows(path)


@pytest.mark.parametrize("row, message", [
    ("a,1\n", ":3: 2 fields, expected 4"),
    ("a,1,2,2014-05-01 08:15:00,9\n", ":3: 5 fields"),
    ("a,cheap,2,2014-05-01 08:15:00\n", ":3: column 'price': 'cheap' is not a valid float"),
    ("a,,2,2014-05-01 08:15:00\n", ":3: column 'price': empty value"),
    ("a,nan,2,2014-05-01 08:15:00\n", ":3: column 'price': 'nan' is not a finite number"),
    ("a,-inf,2,2014-05-01 08:15:00\n", "is not a finite number"),
    ("a,1,2.5,2014-05-01 08:15:00\n", "'2.5' is not a valid int"),
    ("a,1e39,2,2014-05-01 08:15:00\n", ":3: column 'price': '1e39' is beyond a float32"),
    ("a,-4e38,2,2014-05-01 08:15:00\n", "is beyond a float32"),
    ("a,1,9223372036854775808,2014-05-01 08:15:00\n", ":3: column 'count': '9223372036854775808' is beyond a 64-bit"),
    ("a,1,2,2013-02-29 08:15:00\n", ":3: column 'when': '2013-02-29 08:15:00' is not a timestamp"),
    ("a,1,2,2014-05-01 24:00:00\n", "is not a timestamp"),
    ("a,1,2,2014-05-01 08:15:00 CET\n", "is not a timestamp"),
])
def test_bad_rows_are_csvio_errors(tmp_path, row, message):
    path = write(tmp_path, HEADER + ROW.format(i=1) + row)
    with pytest.raises(DataError) as err:
        arrow_rows(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_not_utf8(tmp_path):
    path = write(tmp_path, (HEADER + "caf\xe9,1,2,2014-05-01 08:15:00\n").encode("latin-1"))
    with pytest.raises(DataError, match=":2: not UTF-8"):
        arrow_rows(path)


def test_a_bad_block_hands_the_rest_of_the_file_to_csvio(tmp_path, monkeypatch):
    monkeypatch.setattr(arrowcsv, "BLOCK_BYTES", 256)
    rows = [ROW.format(i=i) for i in range(200)]
    rows[150] = "bad,abc,1,2014-05-01 08:15:00\n"
    path = write(tmp_path, HEADER + "".join(rows))
    assert len(list(itertools.islice(arrowcsv.arrow_batches(path, COLUMNS), 3))) == 3  # good blocks first
    bad = []
    got = arrow_rows(path, lambda line, fields, message: bad.append(line))
    assert got == csvio_rows(path, lambda *_: None)
    assert bad == [152]


PIECES = [
    ["2012", "2000", "1900", "0000", "0001", "9999", "12"], ["-", "/"], ["1", "02", "12", "13", "00"], ["-", "/"],
    ["1", "28", "29", "30", "31", "00", "032"],
    ["", " 08:15", "T23:59:59", " 24:00:00", "T08:15:00.5", " 8:5:60", "T00:30:00"],
    ["", "Z", " UTC", "+02:00", "-0530", "+24", " +01", "+02:60", "UTC", " CET"],
]
PIECE_TEXTS = st.tuples(*(st.sampled_from(p) for p in PIECES)).map("".join)


@given(st.lists(PIECE_TEXTS, min_size=1, max_size=6), st.sampled_from(["date", "timestamp"]))
@settings(max_examples=300, deadline=None)
def test_all_times_agrees_with_csvio_and_is_never_looser(texts, type_):
    """The Arrow check reads what timestamps.parse reads, but for the years at the calendar's ends, which it leaves
    to csvio."""
    python = [timestamps.parse(t, timestamps.forms(type_)) is not None for t in texts]
    arrow = [arrowcsv.all_times(pa.array([t]), type_) for t in texts]
    assert all(p or not a for p, a in zip(python, arrow))  # never looser
    assert [p and t[:4] not in ("0001", "9999") for t, p in zip(texts, python)] == arrow
    assert arrowcsv.all_times(pa.array(texts), type_) is all(arrow)


def test_all_times_of_a_format_and_the_first_matching_form():
    assert arrowcsv.all_times(pa.array(["31.12.2015 23:05", "1.2.2016 0:00"]), "timestamp", "%d.%m.%Y %H:%M")
    assert not arrowcsv.all_times(pa.array(["31.12.2015 23:05", "2015-12-31 23:05"]), "timestamp", "%d.%m.%Y %H:%M")
    assert arrowcsv.all_times(pa.array(["2015/12/31", "2015-12-31", "2016-2-29"]), "date")
    assert arrowcsv.all_times(pa.array([], pa.string()), "date")


def test_dates_timestamps_and_formats_take_the_fast_path(tmp_path):
    columns = columns_from_pairs([("d", "date"), ("t", "timestamp", "2012-01-01"), ("f", "date", None, "%d.%m.%Y")])
    path = write(tmp_path, "d,t,f\n2012/01/01,2012-01-01T08:15:00Z,31.12.2015\n"
                           "2012-02-29,2012-01-01 08:15:00.5+02:00,1.2.2016\n2012-1-2,NA,29.02.2016\n")
    batches = arrowcsv.arrow_batches(path, columns)  # no fallback
    fast = [row for batch in batches for row in arrowcsv.with_defaults(batch, columns).to_pylist()]
    assert fast == [row for _, row in read_rows(path, columns)]
    assert fast[2] == {"d": "2012-1-2", "t": "2012-01-01", "f": "29.02.2016"}


def test_a_label_that_marks_missing_values_with_nan_stays_on_the_arrow_path(tmp_path, monkeypatch):
    columns = columns_from_pairs([("name", "string"), ("price", "float", float("nan"))])
    path = write(tmp_path, "name,price\na,1.5\nb,\nc,NA\n")
    monkeypatch.setattr(arrowcsv, "python_batches", None)  # the row-by-row path would fail the test
    rows = [row for batch in arrowcsv.read_batches(path, columns) for row in batch.to_pylist()]
    assert [r["name"] for r in rows] == ["a", "b", "c"] and rows[0]["price"] == 1.5
    assert [r["price"] != r["price"] for r in rows] == [False, True, True]  # nan where the value is missing
