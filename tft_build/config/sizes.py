"""Sizes as users write them in settings and on the command line: ``5GB``, ``500 MB``, ``2GiB``."""

import re

SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
              "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text: str | int | float) -> int:
    """Bytes from ``5GB``, ``500 MB``, ``2GiB`` or a plain number of bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = match and match.group(2).upper()
    if not match or unit not in SIZE_UNITS:
        raise ValueError(f"{text!r} is not a size; write it like 5GB, 500MB or 2GiB")
    return int(float(match.group(1)) * SIZE_UNITS[unit])
