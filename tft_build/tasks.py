"""The pipeline as doit tasks: what each step reads, writes and cleans.

Task names are the seed's (*tft_tasks*), so its instructions keep working;
the per-model tasks are generated from the config's ``models`` table
(``train_<name>_model``, ``train_and_predict_<name>_model``).

Up-to-date rules: data files are ``file_dep``, checked by content digest
behind a stat key that a restored mtime cannot fool (:mod:`tft_build.filestate`);
directories are never deps, their small digest or manifest files are; code is the fingerprint
of the functions a step runs (the step itself and the configured plug-ins,
:class:`code_unchanged`); the settings a step reads are stored and compared
(:class:`settings_unchanged`). Nothing here imports TensorFlow.
"""

import os

from doit.exceptions import InvalidDodoFile

from tft_build import dotted, location, portable, runs, sourceguard
from tft_build.actions import clean_outputs, run_step
from tft_build.codecache import CACHE_FILE as CODE_CACHE
from tft_build.config import load_config, matching_files, settings_for
from tft_build.errors import TftBuildError
from tft_build.filestate import StatDigestChecker
from tft_build.safety import check_artifacts_dir
from tft_build.uptodate import code_unchanged, remote_files_unchanged, settings_unchanged

STATE_FILE = ".doit-state.sqlite3"
STATE_BACKEND = "tft_sqlite3"  # tft_build.statedb, registered as a doit.BACKEND plugin

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
RAW_SETTINGS = ("columns", "header", "label", "row_filter", "on_bad_rows", "beam_pipeline_args", "shared_dir")
TRANSFORM_SETTINGS = RAW_SETTINGS + ("objective", "preprocessing_fn", "nbuckets")
TRAIN_SETTINGS = ("label", "objective", "batch_size", "epochs", "patience", "lr_patience", "learning_rate", "seed")
PREDICT_SETTINGS = ("columns", "header", "label", "objective", "key_column", "row_filter", "noise_floor_file")


def load_tasks(project_dir="."):
    """``(DOIT_CONFIG, {"task_<name>": creator})`` for the project's config."""
    cfg = load_config(project_dir)
    sourceguard.add_code_dirs(cfg.code_dirs)  # before any fingerprint: it reads what import will load
    for setting in dotted.plugin_settings(cfg):
        dotted.check(cfg, setting)
    check_artifacts_dir(cfg)
    cfg.artifacts_dir.mkdir(parents=True, exist_ok=True)
    doit_config = {
        "default_tasks": [f"train_and_predict_{name}_model" for name, _ in cfg.models],
        "backend": STATE_BACKEND,
        "dep_file": str(cfg.artifacts_dir / STATE_FILE),
        "check_file_uptodate": StatDigestChecker,
        "codec_cls": portable.codec_for(portable.roots(cfg)),  # a moved project keeps its record
        "verbosity": 2,
        "cleanall": True,  # `doit clean` empties the artifacts, not only the defaults'
        "reporter": runs.reporter_for(cfg),
    }
    creators = {
        "task_preprocess_raw_data": lambda: preprocess_task(cfg),
        "task_transform_raw_data": lambda: transform_task(cfg),
        "task_view_original_sample_data": lambda: view_original_task(cfg),
        "task_view_transformed_sample_data": lambda: view_transformed_task(cfg),
    }
    for name, _ in cfg.models:
        creators[f"task_train_{name}_model"] = lambda name=name: train_task(cfg, name)
        creators[f"task_train_and_predict_{name}_model"] = lambda name=name: predict_task(cfg, name)
    return doit_config, {name: recorded(cfg, name, creator) for name, creator in creators.items()}


def recorded(cfg, creator_name, creator):
    """The creator, with what the task makes (``outputs``: the dirs and files it replaces,
    which clean removes and the build cache stores) and its run records, forgotten on clean."""

    def create():
        task = creator()
        outputs = task.pop("outputs", [])
        # for the doit commands of tft_build (graph, run, clean, cache) and the build cache
        task["meta"] = {"tft_build": cfg, "outputs": outputs}
        name = creator_name[len("task_"):]
        cleaners = [(clean_outputs, [cfg, outputs])] if outputs else []
        task["clean"] = cleaners + [(runs.forget_status, [cfg.artifacts_dir, name])]
        return task

    create.__name__ = creator_name
    return create


def output_files(cfg, directory):
    """The files a transform step leaves in ``directory`` that consumers read."""
    return {
        "manifest": cfg.artifact(directory, "MANIFEST.json"),
        "data": cfg.artifact(directory, "data.digest.json"),
        "graph": cfg.artifact(directory, "transform_fn.digest.json"),
    }


def csv_files(cfg, *splits):
    """The local data files of ``splits``, existing ones only (a missing one is the step's error)."""
    local = [p for split in splits for p in getattr(cfg, f"{split}_data") if not location.is_remote(p)]
    return [path for path in matching_files(local) if os.path.isfile(path)]


def step_checks(cfg, step, plugins, settings, splits=()):
    """The uptodate checks of a step: its code with the plug-ins it calls, its settings,
    and the data of ``splits`` on remote storage (local data files are ``file_dep``)."""
    remote = [p for split in splits for p in getattr(cfg, f"{split}_data") if location.is_remote(p)]
    return [
        code_unchanged([step, *plugins], cfg.code_dirs, cfg.artifact(CODE_CACHE)),
        settings_unchanged(settings),
        *([remote_files_unchanged(remote)] if remote else []),
    ]


def transform_like_task(cfg, directory, step, plugins, settings, doc):
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


def preprocess_task(cfg):
    """Raw CSVs -> raw TFRecords and metadata (identity transform)."""
    return transform_like_task(
        cfg, "raw", "preprocess_raw_data", [cfg.row_filter], RAW_SETTINGS, preprocess_task.__doc__
    )


def transform_task(cfg):
    """Beam + tf.Transform: analyze train, transform train and eval, save transform_fn."""
    plugins = [cfg.preprocessing_fn, cfg.row_filter]
    return transform_like_task(
        cfg, "transformed", "transform_raw_data", plugins, TRANSFORM_SETTINGS, transform_task.__doc__
    )


def view_original_task(cfg):
    """Print sample raw rows with their dtypes and shapes."""
    return {
        "doc": view_original_task.__doc__,
        "actions": [(run_step, ["tft_build.steps.view:view_original_sample_data", cfg])],
        "file_dep": [output_files(cfg, "raw")["manifest"]],
        "uptodate": [False],
    }


def view_transformed_task(cfg):
    """Print sample rows raw and transformed, side by side."""
    return {
        "doc": view_transformed_task.__doc__,
        "actions": [(run_step, ["tft_build.steps.view:view_transformed_sample_data", cfg])],
        "file_dep": [output_files(cfg, "raw")["manifest"], output_files(cfg, "transformed")["manifest"]],
        "uptodate": [False],
    }


def train_task(cfg, name):
    """Train one model on the transformed data; save it and its history."""
    step = "tft_build.steps.train:train_model"
    builder = cfg.model_builder(name)
    settings = {**settings_for(cfg, *TRAIN_SETTINGS), "builder": builder}
    return {
        "doc": f"Train the {name} model on the transformed data (Keras, early stopping).",
        "actions": [(run_step, [step, cfg, name])],
        "file_dep": [output_files(cfg, "transformed")["data"]],
        "targets": [cfg.artifact("models", name, "MANIFEST.json")],
        "uptodate": step_checks(cfg, step, [builder], settings),
        "outputs": [cfg.artifact("models", name)],
    }


def predict_task(cfg, name):
    """Export the model on raw features, predict the eval rows, write metrics."""
    transformed = output_files(cfg, "transformed")
    targets = [
        cfg.artifact("serving", name, "MANIFEST.json"),
        cfg.artifact("predictions", f"{name}.csv"),
        cfg.artifact("metrics", f"{name}.json"),
    ]
    noise = [cfg.noise_floor_file] if cfg.noise_floor_file and os.path.isfile(cfg.noise_floor_file) else []
    step = "tft_build.steps.serve:train_and_predict"
    return {
        "doc": f"Serve the {name} model on raw features: SavedModel, eval predictions, metrics.",
        "actions": [(run_step, [step, cfg, name])],
        "file_dep": [cfg.artifact("models", name, "MANIFEST.json"), transformed["graph"], transformed["data"]]
        + csv_files(cfg, "eval")
        + noise,
        "targets": targets,
        "uptodate": step_checks(cfg, step, [cfg.row_filter], settings_for(cfg, *PREDICT_SETTINGS), ("eval",)),
        "outputs": [cfg.artifact("serving", name)] + targets[1:],
    }


def dodo_globals(project_dir="."):
    """What ``dodo.py`` defines; a bad config is doit's one-line error, not a traceback."""
    try:
        doit_config, creators = load_tasks(project_dir)
    except TftBuildError as err:
        raise InvalidDodoFile(f"tft_build: {err}") from None
    return {"DOIT_CONFIG": doit_config, **creators}
