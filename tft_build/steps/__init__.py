"""The pipeline's steps: the only room that imports TensorFlow, tf.Transform and Beam.

The tasks (:mod:`tft_build.engine.pipeline`) name each step by dotted path,
``"tft_build.steps.transform:transform_raw_data"``, so loading the tasks
imports none of this. :mod:`.transform` is the Beam pipeline, fed by
:mod:`.batching` and digested by :mod:`.digests`; :mod:`.train` fits a model
and :mod:`.serve` exports and measures it, sharing the model's files and
inputs through :mod:`.modelio`; :mod:`.view` prints sample rows.
"""
