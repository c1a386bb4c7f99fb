"""The NYC taxi fare example: its data, row filter, preprocessing and models.

:mod:`.datagen` makes the committed data in ``data/`` and its noise floor;
:mod:`.rowfilter`, :mod:`.preprocessing` and :mod:`.models` are the plug-ins
the example's config names. Only preprocessing and models import TensorFlow.
"""
