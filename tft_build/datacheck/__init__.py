"""Know your data: statistics of every column, a schema of expectations, and the anomalies found.

What TFX's StatisticsGen, SchemaGen and ExampleValidator do, without TFDV
(whose wheels do not install here): :mod:`~tft_build.datacheck.stats` gathers
each split's statistics inside the transform's own read of the CSVs,
:mod:`~tft_build.datacheck.expectations` infers and reads the schema file a
user edits and commits, :mod:`~tft_build.datacheck.anomalies` checks the
data against it and the eval data against the training data. Pure numpy and
pyarrow: no TensorFlow.
"""
