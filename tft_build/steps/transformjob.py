"""What a transform pipeline reads and writes: the one argument of each way of running it.

The pipeline runs through Beam (:func:`tft_build.steps.transform.build_pipeline`)
or in the task's own process (:func:`tft_build.steps.inprocess.run_pipeline`),
from the same job to the same files.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tensorflow_transform.tf_metadata import dataset_metadata

    from tft_build.config.settings import Config


@dataclass(frozen=True)
class TransformJob:
    """A transform's inputs, code and output dir."""

    cfg: "Config"
    files: Mapping[str, Sequence[str]]  # each split's CSVs
    raw_metadata: "dataset_metadata.DatasetMetadata"  # the raw columns as TFT reads them
    row_filter: Callable[[Mapping[str, Any]], Any]
    preprocessing_fn: Callable[[Mapping[str, Any]], dict[str, Any]]
    data: str  # the dir the outputs go under
    gather: bool  # whether the counted reads gather the data's statistics
