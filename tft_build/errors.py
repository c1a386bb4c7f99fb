"""Errors a user can cause, reported as one line without a traceback.

Every check that blames the input (data, config, user code) raises one of
these; the task runner turns them into a doit failure with just the message.
"""


class TftBuildError(Exception):
    """A problem the user can fix; ``str()`` is the whole, one-line message."""


class ConfigError(TftBuildError):
    """The configuration is wrong: unknown key, bad type or value."""


class DataError(TftBuildError):
    """The data is wrong: missing file, bad header, a row that does not parse."""


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (TF and Beam add pages of context)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else repr(err)
