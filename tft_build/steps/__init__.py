"""The heavy work, the only rooms that import TensorFlow, TFT and Beam: transform, train, serve, view.

Reached only by dotted name from the task definitions (``tft_build.engine.pipeline``).
"""
