"""The CSV reader: valid CSV variants work, bad rows say file and line."""

import pytest

from tft_build.config.schema import columns_from_pairs
from tft_build.errors import DataError
from tft_build.io.csvio import has_header, read_header, read_rows

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


@pytest.mark.parametrize("data, has", [
    ("name,price,count\na,1.5,2\n", True),  # the configured names
    (" name , price ,count\na,1.5,2\n", True),
    ("a,1.5,2\nb,2,3\n", False),  # a valid row of the columns: data
    ("title,cost,n\na,1.5,2\n", True),  # neither: a header, which the header check then refuses
    ("", False),
])
def test_header_auto_decides_per_file(tmp_path, data, has):
    path = tmp_path / "d.csv"
    path.write_text(data)
    assert has_header(path, COLUMNS, "auto") is has
    assert has_header(path, COLUMNS, True) is True and has_header(path, COLUMNS, False) is False


def test_header_auto_reads_files_with_and_without_one_alike(tmp_path):
    with_header = rows_of(tmp_path, "name,price,count\na,1.5,2\nb,2,3\n")
    without = rows_of(tmp_path, "a,1.5,2\nb,2,3\n")
    assert [row for _, row in with_header] == [row for _, row in without]
    assert [line for line, _ in without] == [1, 2]


@pytest.mark.parametrize("header, data, message", [
    ("auto", "title,cost,n\na,1.5,2\n", "header 'title,cost,n' does not match the configured columns "
     "'name,price,count', and it is not a valid data row either; fix the file, the 'columns' setting or "
     "setting 'header' (now \"auto\"; \"auto\" decides per file)"),
    (True, "a,1.5,2\n", "header 'a,1.5,2' does not match the configured columns 'name,price,count'; fix the file, "
     "the 'columns' setting or setting 'header' (now true;"),
    ("auto", "", "the file is empty; expected the header name,price,count or rows"),
])
def test_a_header_that_does_not_match_names_the_setting(tmp_path, header, data, message):
    path = tmp_path / "d.csv"
    path.write_text(data)
    for read in (lambda: read_header(path, COLUMNS, header), lambda: list(read_rows(path, COLUMNS, header=header))):
        with pytest.raises(DataError) as err:
            read()
        assert message in str(err.value) and str(err.value).startswith(f"{path}:1: ")


def test_an_open_quote_is_named_by_the_line_it_opens_on(tmp_path):
    with pytest.raises(DataError) as err:
        rows_of(tmp_path, 'name,price,count\na,1,2\n"b,2,3\nc,3,4\nd,4,5\n')
    assert str(err.value).startswith(f"{tmp_path / 'd.csv'}:3: a quoted field on this line runs on to line 5")
    assert "check the quotes on line 3" in str(err.value) and "\n" not in str(err.value)


def test_a_field_beyond_csvs_default_limit_is_read_and_a_bad_row_after_it_named(tmp_path):
    long = "x" * 200_000  # csv's default field limit is 128 KiB
    assert rows_of(tmp_path, f"name,price,count\n{long},1,2\n")[0][1]["name"] == long
    with pytest.raises(DataError, match=r"d\.csv:4: 2 fields, expected 3"):
        rows_of(tmp_path, f"name,price,count\n{long},1,2\nb,2,3\nc,3\n")


def test_a_quoted_newline_is_one_row_numbered_by_its_first_line(tmp_path):
    rows = rows_of(tmp_path, 'name,price,count\n"two\nlines",1,2\nb,2,3\n')
    assert rows == [(2, {"name": "two\nlines", "price": 1.0, "count": 2}), (4, {"name": "b", "price": 2.0, "count": 3})]


def test_a_header_with_a_quoted_comma_shows_its_fields(tmp_path):
    with pytest.raises(DataError, match=r":1: header \['name', 'price,count'\] does not match"):
        rows_of(tmp_path, 'name,"price,count"\na,1,2\n')
