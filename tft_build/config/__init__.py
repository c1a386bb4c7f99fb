"""The settings: the frozen ``Config`` read from TOML, the columns, and what init-config infers and writes.

Below the engine and above io; no TensorFlow.
"""
