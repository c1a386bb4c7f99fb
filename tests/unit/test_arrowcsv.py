"""The Arrow CSV reader gives csvio's values, and csvio's errors, whatever the path."""

import itertools

import pyarrow as pa
import pytest

from tft_build.config.schema import columns_from_pairs
from tft_build.errors import DataError
from tft_build.io import arrowcsv
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


@pytest.mark.parametrize("text, ok", [
    ("2012-02-29 00:00:00", True), ("2014-12-31 23:59:59 UTC", True), ("2013-02-29 00:00:00", False),
    ("2014-04-31 00:00:00", False), ("2014-00-10 00:00:00", False), ("2014-05-01 08:60:00", False),
    ("2014-5-1 08:15:00", False), ("0000-01-01 00:00:00", False), ("2014-05-01T08:15:00", False),
])
def test_all_timestamps_is_never_looser_than_csvio(text, ok):
    assert arrowcsv.all_timestamps(pa.array([text])) is ok


def test_a_label_that_marks_missing_values_with_nan_stays_on_the_arrow_path(tmp_path, monkeypatch):
    columns = columns_from_pairs([("name", "string"), ("price", "float", float("nan"))])
    path = write(tmp_path, "name,price\na,1.5\nb,\nc,NA\n")
    monkeypatch.setattr(arrowcsv, "python_batches", None)  # the row-by-row path would fail the test
    rows = [row for batch in arrowcsv.read_batches(path, columns) for row in batch.to_pylist()]
    assert [r["name"] for r in rows] == ["a", "b", "c"] and rows[0]["price"] == 1.5
    assert [r["price"] != r["price"] for r in rows] == [False, True, True]  # nan where the value is missing
