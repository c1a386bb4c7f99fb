"""The NYC taxi fare example: its preprocessing_fn, row filter, two models and data generator."""
