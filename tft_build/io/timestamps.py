"""Dates and timestamps as text: each accepted form is one regular expression, read alike everywhere.

A ``date`` or ``timestamp`` column's values stay text (TF gets a string).
Each form a column accepts is one regular expression with named groups
(:data:`FIELDS`: year, month, day, hour, minute, second, and the UTC offset's
sign, hours and minutes), written in what Python's ``re`` and RE2 (the engine
of TensorFlow and pyarrow) read the same: no lookaround, no backreferences,
``[0-9]`` for a digit (Python's ``\\d`` also takes other scripts' digits).
Its users:

- :mod:`~tft_build.io.csvio`, the reader of record, accepts a value when
  :func:`parse` finds a real time in it;
- :mod:`~tft_build.io.arrowcsv` checks whole Arrow columns with the same
  regular expressions (never looser than csvio);
- ``tft-tasks init-config`` (:mod:`~tft_build.config.infer`) types a column a
  date or a timestamp when :func:`parse` reads each of its values;
- :func:`tft_build.generic.preprocessing.parse_time` parses them in pure
  TensorFlow with the same expressions (the group numbers of :func:`forms`),
  so the served model reads a string exactly as the transform did.

Built in, for any column (each value may have either form):

- a ``date``: ``YYYY-MM-DD`` (ISO 8601) or ``YYYY/MM/DD``;
- a ``timestamp``: such a date, optionally followed by a time of day after
  ``T`` or a space, ``HH:MM[:SS[.fraction]]``, optionally followed by ``Z``,
  ``UTC`` or an offset (``+HH:MM``, ``+HHMM``, ``+HH``, or ``-``), with an
  optional space before it. An offset is converted to UTC; the fraction of a
  second is accepted and dropped (no feature resolves it).

Month, day, hour, minute and second may lack their zero padding. Anything
else is a column's ``format``: a strftime-like text of the directives in
:data:`DIRECTIVES` and literal text (:func:`format_pattern`).
"""

import datetime
import functools
import re

from tft_build.errors import DataError

DATE_TYPES = ("date", "timestamp")  # the column types whose values are dates or times, kept as text
FIELDS = ("year", "month", "day", "hour", "minute", "second", "sign", "zhour", "zminute")
FIRST = {"month": 1, "day": 1}  # what a field a form lacks stands for; any other is 0


def _number(name, digits="[0-9]{1,2}"):
    """The group of one field: one or two digits unless said otherwise."""
    return f"(?P<{name}>{digits})"


ZONE = rf"(?:Z|UTC|(?P<sign>[+-]){_number('zhour', '[0-9]{2}')}(?::?{_number('zminute', '[0-9]{2}')})?)"


def _date(separator):
    """A date of year, month and day with ``separator`` between them."""
    return f"{_number('year', '[0-9]{4}')}{separator}{_number('month')}{separator}{_number('day')}"


ISO_DATE, SLASH_DATE = _date("-"), _date("/")
TIME = (
    rf"(?:[T ]{_number('hour')}:{_number('minute')}(?::{_number('second')}(?:[.,][0-9]+)?)?(?: ?{ZONE})?)?"
)
BUILT_IN = {"date": (ISO_DATE, SLASH_DATE), "timestamp": (ISO_DATE + TIME, SLASH_DATE + TIME)}
EXAMPLES = {"date": "'2014-05-01' or '2014/05/01'", "timestamp": "'2014-05-01 08:15:00 UTC' or '2014-05-01T08:15:00Z'"}

# A column's own format: these directives (strftime's meaning, numbers only) and literal text.
DIRECTIVES = {
    "%Y": _number("year", "[0-9]{4}"), "%m": _number("month"), "%d": _number("day"),
    "%H": _number("hour"), "%M": _number("minute"), "%S": _number("second"),
    "%f": "[0-9]{1,9}", "%z": ZONE, "%%": "%",
}
DATE_DIRECTIVES = ("%Y", "%m", "%d", "%%")


def format_pattern(fmt: str, type_: str) -> str:
    """The regular expression of a column's ``format`` (``%d.%m.%Y %H:%M``); ValueError says what is wrong."""
    parts, used = [], set()
    for token in re.findall(r"%.?|[^%]+", fmt, re.S):
        if not token.startswith("%"):
            parts.append(re.escape(token))
            continue
        if token not in DIRECTIVES:
            raise ValueError(f"{token!r} is not one of {' '.join(DIRECTIVES)}")
        if type_ == "date" and token not in DATE_DIRECTIVES:
            raise ValueError(f"a date has no {token}; use {' '.join(DATE_DIRECTIVES)}, or make it a timestamp")
        if token in used and token != "%%":
            raise ValueError(f"{token} appears twice")
        used.add(token)
        parts.append(DIRECTIVES[token])
    if "%Y" not in used:
        raise ValueError("it has no %Y (the year)")
    return "".join(parts)


@functools.cache
def forms(type_: str, fmt: str = "") -> tuple[re.Pattern, ...]:
    """The compiled forms a column of ``type_`` (date or timestamp) accepts: its ``fmt``'s, else the built-in ones."""
    return tuple(re.compile(p) for p in ([format_pattern(fmt, type_)] if fmt else BUILT_IN[type_]))


def parse(text: str, patterns: tuple[re.Pattern, ...]) -> datetime.datetime | None:
    """The UTC time ``text`` names in the first of ``patterns`` it matches in full; None if none or no real time."""
    for pattern in patterns:
        match = pattern.fullmatch(text)
        if match:
            return _utc(match.groupdict())
    return None


def _utc(groups):
    """The UTC time of a match's groups, or None when they name no real date, time or offset."""
    n = {name: int(value) for name, value in groups.items() if value and name != "sign"}
    n = {**FIRST, **n}
    try:
        local = datetime.datetime(*(n.get(name, 0) for name in FIELDS[:6]))
        if n.get("zhour", 0) > 23 or n.get("zminute", 0) > 59:
            return None
        offset = datetime.timedelta(hours=n.get("zhour", 0), minutes=n.get("zminute", 0))
        return local + offset if groups.get("sign") == "-" else local - offset
    except (ValueError, OverflowError):
        return None


def describe(type_: str, fmt: str = "") -> str:
    """What a value of such a column looks like, for error messages."""
    if fmt:
        return f"a {type_} in the column's format {fmt!r}"
    return f"a {type_} like {EXAMPLES[type_]} (set the column's format for other forms)"


def check(where: str, text: str, type_: str, fmt: str = "") -> str:
    """``text`` as it is, once it is a date or timestamp of its column; else a :class:`DataError` starting ``where``."""
    if parse(text, forms(type_, fmt)) is None:
        raise DataError(f"{where}: {text!r} is not {describe(type_, fmt)}")
    return text
