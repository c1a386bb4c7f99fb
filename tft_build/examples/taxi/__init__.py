"""The NYC taxi fare example: its data, row filter, preprocessing, models and slices.

:mod:`.datagen` makes the committed data in ``data/`` and its noise floor;
:mod:`.rowfilter`, :mod:`.preprocessing`, :mod:`.models` and :mod:`.slices` are the
plug-ins the example's config names; :mod:`.places` holds the airports that the
features and the slices share. Only preprocessing and models import TensorFlow.
"""
