"""Errors a user can cause, reported as one line without a traceback.

Every check that blames the input (data, config, user code) raises one of
these; the task runner turns them into a doit failure with just the message.
"""

import re
from collections.abc import Iterator


class TftBuildError(Exception):
    """A problem the user can fix; ``str()`` is the whole, one-line message."""


class ConfigError(TftBuildError):
    """The configuration is wrong: unknown key, bad type or value."""


class DataError(TftBuildError):
    """The data is wrong: missing file, bad header, a row that does not parse."""


BEAM_CONTEXT = re.compile(r" \[while running '[^\n]*'\]$")  # what Beam appends to an error from a step of it


def message(err: BaseException) -> str:
    """A user error's one line, without the ``[while running '...']`` that Beam appends to it."""
    return BEAM_CONTEXT.sub("", str(err).strip())


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (TF and Beam add pages of context)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else repr(err)


def causes(err: BaseException | None) -> Iterator[BaseException]:
    """``err``, then what caused it, and so on (each once: a chain can loop)."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__
