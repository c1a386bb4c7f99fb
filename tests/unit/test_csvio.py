"""The CSV reader: valid CSV variants work, bad rows say file and line."""

import pytest

from tft_build.config.schema import columns_from_pairs
from tft_build.errors import DataError
from tft_build.io.csvio import read_header, read_rows

COLUMNS = columns_from_pairs([("name", "string"), ("price", "float"), ("count", "int")])


def rows_of(tmp_path, data, encoding="utf-8"):
    path = tmp_path / "d.csv"
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return list(read_rows(path, COLUMNS))


def test_typed_rows_with_line_numbers(tmp_path):
    rows = rows_of(tmp_path, "name,price,count\na,1.5,2\nb,2,3\n")
    assert rows == [(2, {"name": "a", "price": 1.5, "count": 2}), (3, {"name": "b", "price": 2.0, "count": 3})]


def test_crlf_bom_and_quoted_commas_are_valid(tmp_path):
    data = "\ufeffname,price,count\r\n\"x, y\",1.0,1\r\n"
    assert rows_of(tmp_path, data) == [(2, {"name": "x, y", "price": 1.0, "count": 1})]


@pytest.mark.parametrize(
    "data, message",
    [
        ("name,price\na,1\n", ":1: header 'name,price' does not match"),
        ("name,price,count\na,1\n", ":2: 2 fields, expected 3"),
        ("name,price,count\na,1,2,3\n", ":2: 4 fields, expected 3"),
        ("name,price,count\na,cheap,2\n", ":2: column 'price': 'cheap' is not a valid float"),
        ("name,price,count\na,1,\n", ":2: column 'count': empty value"),
        ("name,price,count\na,1,2\nb,nan,2\n", ":3: column 'price': 'nan' is not a finite number"),
        ("name,price,count\na,inf,2\n", "is not a finite number"),
        ("name,price,count\na,1,2.5\n", "'2.5' is not a valid int"),
        ("", ":1: the file is empty"),
    ],
)
def test_bad_input_names_file_line_and_column(tmp_path, data, message):
    with pytest.raises(DataError) as err:
        rows_of(tmp_path, data)
    assert str(tmp_path / "d.csv") in str(err.value)
    assert message in str(err.value)


def test_not_utf8(tmp_path):
    with pytest.raises(DataError, match="not UTF-8"):
        rows_of(tmp_path, "name,price,count\ncaf\xe9,1,2\n", encoding="latin-1")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such data file"):
        read_header(tmp_path / "nope.csv", COLUMNS)


def test_header_only_file_has_no_rows(tmp_path):
    assert rows_of(tmp_path, "name,price,count\n") == []
