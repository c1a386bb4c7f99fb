"""Example projects' code: the taxi fare pipeline, and two small data sets to try your own-data setup.

A user of the engine like any other: its settings are a config (the repository's
``pyproject.toml`` for the taxi example), its code named there by dotted path.
"""
