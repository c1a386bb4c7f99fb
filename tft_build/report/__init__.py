"""What happened: the run history, the reporter and timing tables, the task graph, the HTML report, comparisons.

It reads what the engine recorded; no TensorFlow.
"""
