"""The trained model between the train and serve steps: its files, and how it is fed.

Training saves a model dir (``artifacts/models/<name>/``) and serving reads
it; what both must agree on lives here, so serving never imports the
training step: the model file and its reproducible bytes
(:func:`save_model`, :func:`load_model`), the history file with the training
label's statistics (:func:`write_history`, :func:`trained_label_stats`), and
the shape of the model's inputs (:func:`as_model_inputs`).
"""

import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tensorflow as tf
import tf_keras as keras

from tft_build import layout
from tft_build.engine.trace import traced
from tft_build.io import manifest

if TYPE_CHECKING:
    from tft_build.config.settings import Config

KERAS_METADATA = "metadata.json"  # in the .keras zip: the Keras version and the save time
FIXED_SAVE_TIME = "1980-01-01@00:00:00"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
# The history's figures of the training and validation rows, by the names the metrics files give them.
TRAINED_FIGURES = {
    "train_rows": "train_rows", "validation_rows": "validation_rows",
    "train_rmse": "train_rmse", "val_rmse": "validation_rmse",
    "train_accuracy": "train_accuracy", "val_accuracy": "validation_accuracy",
}


def save_model(model: keras.Model, directory: str | Path) -> None:
    """Save ``model`` as ``directory/model.keras``, same weights same bytes (:func:`reproducible_keras_file`)."""
    path = Path(directory) / layout.MODEL_FILE
    model.save(path)
    reproducible_keras_file(path)


def reproducible_keras_file(path: Path) -> None:
    """Rewrite a ``.keras`` zip without what changes from save to save: the save time in
    its metadata and the weights' zip timestamp. Equal weights then give equal bytes,
    so a retrained model that did not change is no change for the tasks that read it
    (early cutoff), and the build cache's keys of those tasks stay the same."""
    with zipfile.ZipFile(path) as saved:
        members = [(info, saved.read(info)) for info in saved.infolist()]
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as out:
        for info, data in members:
            if info.filename == KERAS_METADATA:
                data = json.dumps({**json.loads(data), "date_saved": FIXED_SAVE_TIME}).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type, fixed.external_attr = info.compress_type, info.external_attr
            out.writestr(fixed, data)
    os.replace(tmp, path)


@traced
def load_model(cfg: "Config", model_name: str) -> keras.Model:
    """The trained ``tf_keras`` model called ``model_name``."""
    return keras.models.load_model(cfg.artifact(layout.MODELS, model_name, layout.MODEL_FILE))


def write_history(
    directory: str | Path, history: Mapping[str, Sequence[float]], summary: Mapping[str, Any],
    label_stats: Mapping[str, Any],
) -> None:
    """``directory/history.json``: the per-epoch curves, the run's summary and the training label's statistics."""
    text = manifest.to_json({"history": history, **summary, "label_stats": label_stats})
    (Path(directory) / layout.HISTORY_FILE).write_text(text)


def trained_label_stats(cfg: "Config", model_name: str) -> dict[str, Any]:
    """The statistics of the label that the model called ``model_name`` was trained on (:func:`write_history`)."""
    return read_history(cfg, model_name)["label_stats"]


def trained_figures(cfg: "Config", model_name: str) -> dict[str, int | float]:
    """The kept model's quality on the training rows it was fit on and on the validation rows held out
    (``train_rmse``, ``validation_rmse``, ... and their ``*_rows``), from its history (:func:`write_history`)."""
    history = read_history(cfg, model_name)
    return {shown: history[saved] for saved, shown in TRAINED_FIGURES.items() if saved in history}


def read_history(cfg: "Config", model_name: str) -> dict[str, Any]:
    """The history file of the model called ``model_name``."""
    return json.loads(Path(cfg.artifact(layout.MODELS, model_name, layout.HISTORY_FILE)).read_text())


def as_model_inputs(features: Mapping[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """The ``[batch]`` tensors of TFT as the ``[batch, 1]`` inputs the models take."""
    return {name: tf.expand_dims(value, -1) for name, value in features.items()}
