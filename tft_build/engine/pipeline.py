"""The pipeline's doit task definitions: what each step reads, writes and makes.

Task names are the seed's (*tft_tasks*), so its instructions keep working;
the per-model tasks are generated from the config's ``models`` table
(``train_<name>_model``, ``train_and_predict_<name>_model``), and one more,
``train_reference_model``, fits the reference model whose figures each
``train_and_predict_<name>_model`` puts beside its model's.

Up-to-date rules: data files are ``file_dep``, checked by content digest
behind a stat key that a restored mtime cannot fool (:mod:`tft_build.engine.filestate`);
directories are never deps, their small digest or manifest files are; code is the fingerprint
of the functions a step runs (the step itself and the configured plug-ins,
:class:`code_unchanged`); the settings a step reads are stored and compared
(:class:`settings_unchanged`). Nothing here imports TensorFlow.
"""

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from doit.task import Task

from tft_build import layout
from tft_build.config.settings import Config, matching_files
from tft_build.engine.actions import run_step
from tft_build.engine.uptodate import (
    code_unchanged,
    remote_files_unchanged,
    schema_unchanged,
    settings_for,
    settings_unchanged,
)
from tft_build.io import location

# `doit transform_raw_data --beam-args="--direct_num_workers=2 ..."`: Beam
# options for this run, added to the config's beam_pipeline_args.
BEAM_ARGS = {
    "name": "beam_args",
    "long": "beam-args",
    "type": str,
    "default": "",
    "help": "extra Apache Beam pipeline options for this run, e.g. "
    '"--direct_running_mode=multi_processing --direct_num_workers=2"',
}

# What each kind of step reads from the config; a change reruns exactly it.
RAW_SETTINGS = (
    "columns", "header", "label", "row_filter", "on_bad_rows", "beam_pipeline_args", "transform_engine", "shared_dir",
    "tf_compat_v1",
)
TRANSFORM_SETTINGS = RAW_SETTINGS + ("objective", "preprocessing_fn", "nbuckets", "statistics", "fail_on_anomalies")
TRAIN_SETTINGS = (
    "label", "objective", "batch_size", "epochs", "patience", "lr_patience", "learning_rate", "seed",
    "validation_fraction",
)
PREDICT_SETTINGS = (
    "columns", "header", "label", "objective", "key_column", "row_filter", "noise_floor_file",
    "slices", "slice_fn", "slice_buckets",
)
# The reference model: which rows it fits on and is stopped by, its random_state; nothing of the networks'.
REFERENCE_SETTINGS = ("label", "objective", "seed", "validation_fraction")
REFERENCE_TASK = f"train_{layout.REFERENCE}_model"  # a model may not be called "reference" (config.settings)





def output_files(cfg: Config, directory: str) -> dict[str, str]:
    """The files a transform step leaves in ``directory`` that consumers read."""
    return {
        "manifest": cfg.artifact(directory, layout.MANIFEST),
        "data": cfg.artifact(directory, layout.DATA_DIGEST),
        "graph": cfg.artifact(directory, layout.TRANSFORM_DIGEST),
    }


def csv_files(cfg: Config, *splits: str) -> list[str]:
    """The local data files of ``splits``, existing ones only (a missing one is the step's error)."""
    local = [p for split in splits for p in getattr(cfg, f"{split}_data") if not location.is_remote(p)]
    return [path for path in matching_files(local) if os.path.isfile(path)]


def step_checks(
    cfg: Config, step: str, plugins: Iterable[str], settings: Mapping[str, Any], splits: Iterable[str] = ()
) -> list[Callable[[Task, Mapping[str, Any]], bool]]:
    """The uptodate checks of a step: its code with the plug-ins it calls, its settings,
    and the data of ``splits`` on remote storage (local data files are ``file_dep``)."""
    remote = [p for split in splits for p in getattr(cfg, f"{split}_data") if location.is_remote(p)]
    return [
        code_unchanged([step, *plugins], cfg.code_dirs, cfg.artifact(layout.CODE_CACHE)),
        settings_unchanged(settings),
        *([remote_files_unchanged(remote)] if remote else []),
    ]


def transform_like_task(
    cfg: Config, directory: str, step: str, plugins: Iterable[str], settings: Iterable[str], doc: str | None
) -> dict[str, Any]:
    """A Beam step: CSVs -> ``artifacts/<directory>/``."""
    outputs = output_files(cfg, directory)
    step = f"tft_build.steps.transform:{step}"
    return {
        "doc": doc,
        "actions": [(run_step, [step, cfg])],
        "file_dep": csv_files(cfg, "train", "eval"),
        "targets": list(outputs.values()),
        "params": [BEAM_ARGS],
        "uptodate": step_checks(cfg, step, plugins, settings_for(cfg, *settings), ("train", "eval")),
        "outputs": [cfg.artifact(directory)],
    }


def preprocess_task(cfg: Config) -> dict[str, Any]:
    """Raw CSVs -> raw TFRecords and metadata (identity transform)."""
    return transform_like_task(
        cfg, layout.RAW, "preprocess_raw_data", [cfg.row_filter], RAW_SETTINGS, preprocess_task.__doc__
    )


def transform_task(cfg: Config) -> dict[str, Any]:
    """Beam + tf.Transform: analyze train, transform train and eval, save transform_fn; check the data."""
    plugins = [cfg.preprocessing_fn, cfg.row_filter]
    task = transform_like_task(
        cfg, layout.TRANSFORMED, "transform_raw_data", plugins, TRANSFORM_SETTINGS, transform_task.__doc__
    )
    if cfg.statistics:  # artifacts/stats, checked against the schema file, which it makes when there is none
        task["targets"].append(cfg.artifact(layout.STATS, layout.MANIFEST))
        task["outputs"].append(cfg.artifact(layout.STATS))
        task["uptodate"].append(schema_unchanged(cfg.schema_file, cfg.artifact(layout.STATS, layout.SCHEMA_COPY)))
    return task


def view_original_task(cfg: Config) -> dict[str, Any]:
    """Print sample raw rows with their dtypes and shapes."""
    return {
        "doc": view_original_task.__doc__,
        "actions": [(run_step, ["tft_build.steps.view:view_original_sample_data", cfg])],
        "file_dep": [output_files(cfg, layout.RAW)["manifest"]],
        "uptodate": [False],
    }


def view_transformed_task(cfg: Config) -> dict[str, Any]:
    """Print sample rows raw and transformed, side by side."""
    return {
        "doc": view_transformed_task.__doc__,
        "actions": [(run_step, ["tft_build.steps.view:view_transformed_sample_data", cfg])],
        "file_dep": [output_files(cfg, layout.RAW)["manifest"], output_files(cfg, layout.TRANSFORMED)["manifest"]],
        "uptodate": [False],
    }


def train_task(cfg: Config, name: str) -> dict[str, Any]:
    """Train one model on the transformed data; save it and its history."""
    step = "tft_build.steps.train:train_model"
    builder = cfg.model_builder(name)
    settings = {**settings_for(cfg, *TRAIN_SETTINGS), "builder": builder}
    return {
        "doc": f"Train the {name} model on the transformed data (Keras, early stopping).",
        "actions": [(run_step, [step, cfg, name])],
        "file_dep": [output_files(cfg, layout.TRANSFORMED)["data"]],
        "targets": [cfg.artifact(layout.MODELS, name, layout.MANIFEST)],
        "uptodate": step_checks(cfg, step, [builder], settings),
        "outputs": [cfg.artifact(layout.MODELS, name), cfg.artifact(layout.TENSORBOARD, name)],
    }


def reference_task(cfg: Config) -> dict[str, Any]:
    """Fit the reference model on the transformed training rows; score the eval rows."""
    step = "tft_build.steps.reference:train_reference_model"
    return {
        "doc": "Fit the reference model (scikit-learn boosted trees) on the networks' features and rows; score eval.",
        "actions": [(run_step, [step, cfg])],
        "file_dep": [output_files(cfg, layout.TRANSFORMED)["data"]],
        "targets": [cfg.artifact(*layout.reference_metrics_file())],
        "uptodate": step_checks(cfg, step, [], settings_for(cfg, *REFERENCE_SETTINGS)),
        "outputs": [cfg.artifact(layout.REFERENCE)],
    }


def predict_task(cfg: Config, name: str) -> dict[str, Any]:
    """Export the model on raw features, predict the eval rows, write metrics (with the reference's beside)."""
    transformed = output_files(cfg, layout.TRANSFORMED)
    targets = [
        cfg.artifact(layout.SERVING, name, layout.MANIFEST),
        cfg.artifact(*layout.predictions_file(name)),
        cfg.artifact(*layout.metrics_file(name)),
    ]
    noise = [cfg.noise_floor_file] if cfg.noise_floor_file and os.path.isfile(cfg.noise_floor_file) else []
    step = "tft_build.steps.serve:train_and_predict"
    return {
        "doc": f"Serve the {name} model on raw features: SavedModel, eval predictions, metrics.",
        "actions": [(run_step, [step, cfg, name])],
        "file_dep": [cfg.artifact(layout.MODELS, name, layout.MANIFEST), transformed["graph"], transformed["data"],
                     cfg.artifact(*layout.reference_metrics_file())]
        + csv_files(cfg, "eval")
        + noise,
        "targets": targets,
        "uptodate": step_checks(cfg, step, [cfg.row_filter, cfg.slice_fn], settings_for(cfg, *PREDICT_SETTINGS),
                                ("eval",)),
        "outputs": [cfg.artifact(layout.SERVING, name)] + targets[1:],
    }



def creators(cfg: Config) -> dict[str, Callable[[], dict[str, Any]]]:
    """``{"task_<name>": creator}``: the tasks of the config, in the seed's order (the reference model's,
    which the seed had not, before the models')."""
    made = {
        "task_preprocess_raw_data": lambda: preprocess_task(cfg),
        "task_transform_raw_data": lambda: transform_task(cfg),
        "task_view_original_sample_data": lambda: view_original_task(cfg),
        "task_view_transformed_sample_data": lambda: view_transformed_task(cfg),
        f"task_{REFERENCE_TASK}": lambda: reference_task(cfg),
    }
    for name, _ in cfg.models:
        made[f"task_train_{name}_model"] = lambda name=name: train_task(cfg, name)
        made[f"task_train_and_predict_{name}_model"] = lambda name=name: predict_task(cfg, name)
    return made


def project_config(tasks: Iterable[Task]) -> Config | None:
    """The tft_build config that the tasks were made from (in their ``meta``), or None.

    tft_build's doit commands replace doit's own for every doit project on the machine;
    a dodo.py that is not tft_build's gets doit's behaviour unchanged.
    """
    return next((t.meta["tft_build"] for t in tasks if t.meta and "tft_build" in t.meta), None)
