"""The doit integration: task definitions, the build record, code fingerprints, the build cache, the lock.

It decides what runs and records what ran; it never imports TensorFlow, TFT or
Beam (the steps it runs are named by dotted path).
"""
