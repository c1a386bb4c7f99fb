"""The validation rows: a fixed share of the training rows, held out to choose, so the eval data only measures."""

import tensorflow as tf

from tft_build.steps import train


def test_the_rows_held_out_for_validation_are_a_fixed_spread_share():
    places = tf.range(20_000, dtype=tf.int64)
    held = train.held_out_row(places, 0.1).numpy()
    assert 0.09 < held.mean() < 0.11
    assert (held == train.held_out_row(places, 0.1).numpy()).all()  # the same rows in every build
    assert held[:10_000].mean() > 0.08 and held[10_000:].mean() > 0.08  # spread over the file, not a block
    assert train.held_out_row(places, 0.2).numpy()[held].all()  # a larger share holds out these and more
