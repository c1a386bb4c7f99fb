"""Fuzzing both CSV readers: whatever the bytes, typed rows or one line naming the file and line.

Files are made of random bytes, or of rows of good and bad values joined
by random separators and line endings, quoted or not (and quotes left
open), with a header or not, fields longer than csv's default limit, in UTF-8 with or without a BOM,
Latin-1 or UTF-16. Both readers (:mod:`tft_build.io.csvio` and
:mod:`tft_build.io.arrowcsv`) must end each one in the same typed rows or in
the same one-line :class:`DataError` that starts ``file:line:``; anything
else (a traceback, another message, other rows) is a bug. The number of
examples is bounded, so that the file takes seconds in CI.
"""

import math
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tft_build.config.schema import columns_from_pairs
from tft_build.errors import DataError
from tft_build.io import arrowcsv, csvio

COLUMNS = columns_from_pairs([
    ("name", "string"), ("price", "float"), ("count", "int"), ("when", "timestamp"), ("tip", "float", 0.0),
])
HEADER = ["name", "price", "count", "when", "tip"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

values = st.one_of(
    st.sampled_from([
        "a", "x, y", "1", "2.5", "-3e5", "1e39", "nan", "inf", "NA", "", " ", "9223372036854775808", "+7", "1_0",
        "2014-05-01 08:15:00 UTC", "2012-02-29T23:59:59Z", "2013-02-29 08:15:00", "2014/5/1 8:15", "é", "\ufeff",
        '"', '""', 'a"b', '"a"b', "\x00", "\r", "\n", "\t", "k" * 140_000,
    ]),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


def quoted(value, how):
    """The field as written: bare, quoted (inner quotes doubled), or with a quote left open."""
    if how == "quoted":
        return '"' + value.replace('"', '""') + '"'
    return '"' + value if how == "open" else value


@st.composite
def csv_files(draw):
    """The bytes of a CSV file: random, or rows of random fields."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    separator = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    rows = [HEADER] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 6))):
        width = draw(st.sampled_from([len(HEADER), len(HEADER), len(HEADER) - 1, len(HEADER) + 1, 1]))
        rows.append([draw(values) for _ in range(width)])
    fields = st.sampled_from(["bare", "bare", "bare", "quoted", "open"])
    text = ending.join(separator.join(quoted(v, draw(fields)) for v in row) for row in rows)
    text += ending if draw(st.booleans()) else ""
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, "replace")


def outcome(read, path):
    """``("rows", rows)`` or ``("error", message)``: what one reader made of ``path``."""
    try:
        return "rows", read(path)
    except DataError as err:
        return "error", str(err)


def csvio_rows(path):
    return [row for _, row in csvio.read_rows(path, COLUMNS)]


def arrow_rows(path):
    return [row for batch in arrowcsv.read_batches(path, COLUMNS) for row in batch.to_pylist()]


def same(a, b):
    """Rows equal value for value (a NaN never reaches here: both readers refuse it)."""
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=0, abs_tol=0))


@FUZZ
@given(data=csv_files())
def test_every_file_is_typed_rows_or_one_line_naming_file_and_line(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    by_csvio, by_arrow = outcome(csvio_rows, path), outcome(arrow_rows, path)
    for kind, result in (by_csvio, by_arrow):
        if kind == "error":
            assert "\n" not in result and re.match(rf"{re.escape(str(path))}:\d+: \S", result), result
    assert by_csvio[0] == by_arrow[0], (by_csvio, by_arrow)
    if by_csvio[0] == "error":
        assert by_csvio[1] == by_arrow[1]
    else:
        assert len(by_csvio[1]) == len(by_arrow[1])
        for mine, theirs in zip(by_csvio[1], by_arrow[1]):
            assert mine.keys() == theirs.keys() and all(same(mine[k], theirs[k]) for k in mine), (mine, theirs)
