"""The two view tasks: look at the data before and after the transform.

Both read the raw TFRecords that ``preprocess_raw_data`` wrote. The transformed
view applies the saved transform_fn to those same raw rows, so each raw row
sits exactly beside its own transformed values.
"""

from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tabulate import tabulate

from tft_build import layout
from tft_build.engine.trace import traced
from tft_build.io import location
from tft_build.steps import transformfn

if TYPE_CHECKING:
    from tft_build.config.settings import Config

SAMPLE_ROWS = 3


@traced
def view_original_sample_data(cfg: "Config", rows: int = SAMPLE_ROWS) -> None:
    """Print sample raw rows, each feature with its dtype and shape."""
    raw = sample_raw(cfg, rows)
    table = [[name, tensor.dtype.name, list(tensor.shape)] + [show(v) for v in tensor.numpy()]
             for name, tensor in raw.items()]
    headers = ["raw feature", "dtype", "shape"] + [f"row {i + 1}" for i in range(rows)]
    print(f"{rows} sample raw rows from {cfg.artifact(layout.RAW)}:")
    print(tabulate(table, headers=headers))


@traced
def view_transformed_sample_data(cfg: "Config", rows: int = SAMPLE_ROWS) -> None:
    """Print sample rows raw and transformed, side by side."""
    raw = sample_raw(cfg, rows)
    transformed = transformfn.transformed_values(
        location.data_dir(cfg, layout.TRANSFORMED), {name: t.numpy() for name, t in raw.items()}
    )
    for i in range(len(next(iter(raw.values())))):
        left = [[name, show(t.numpy()[i])] for name, t in raw.items()]
        right = [[name, show(values[i])] for name, values in sorted(transformed.items())]
        left += [["", ""]] * (len(right) - len(left))
        right += [["", ""]] * (len(left) - len(right))
        table = [raw_cells + transformed_cells for raw_cells, transformed_cells in zip(left, right)]
        print(f"\nrow {i + 1}:")
        print(tabulate(table, headers=["raw feature", "value", "transformed feature", "value"]))


@traced
def sample_raw(cfg: "Config", rows: int) -> dict[str, tf.Tensor]:
    """The first ``rows`` raw examples as a dict of ``[rows]`` tensors."""
    raw_dir = location.data_dir(cfg, layout.RAW)
    tft_output = tft.TFTransformOutput(raw_dir)
    files = sorted(tf.io.gfile.glob(location.join(raw_dir, layout.records_pattern("train"))))
    batch = next(iter(tf.data.TFRecordDataset(files).batch(rows)))
    parsed = tf.io.parse_example(batch, tft_output.raw_feature_spec())
    return {c.name: parsed[c.name] for c in cfg.columns}


def show(value: Any) -> Any:
    """A cell: text for bytes, a few significant digits for floats, a list's elements so."""
    if isinstance(value, list):
        return "[" + ", ".join(str(show(v)) for v in value) + "]"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    return value
