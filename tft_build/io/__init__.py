"""Reading and writing data: CSV rows, Arrow batches, TFRecords, timestamps, manifests, atomic outputs, storage.

The lowest room but the base modules: it knows files and formats, not settings.
"""
