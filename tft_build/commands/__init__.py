"""The commands users type: doit's own run and clean made safe, explain, graph, cache, compare, and tft-tasks.

One doit command per module, as in pydoit's ``cmd_*.py``: each is thin, over a
function of the engine or the report that returns data. Nothing imports a command.
"""
