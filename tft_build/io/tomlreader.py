"""TOML reading on every supported Python: the standard ``tomllib`` from 3.11, ``tomli`` (its origin,
the same API) on 3.10."""

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

__all__ = ["tomllib"]
