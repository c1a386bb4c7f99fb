"""The pipeline's settings: one frozen dataclass, read from TOML.

Settings come, lowest priority first, from the defaults below (the taxi
example), the ``[tool.tft_build]`` table of the project's ``pyproject.toml``,
and a TOML file named by the environment variable ``TFT_BUILD_CONFIG`` (its
keys at top level or under ``[tool.tft_build]``). Relative paths are relative
to the file that set them, so a config file can live beside its data.

The config is passed explicitly to every task and step; each task declares
the part it reads (:func:`settings_for`) so that changing a setting reruns
exactly the tasks that read it.
"""

import dataclasses
import glob
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from tft_build.errors import ConfigError
from tft_build.schema import COLUMN_TYPES, TAXI_COLUMNS, Column, columns_from_pairs

ENV_VAR = "TFT_BUILD_CONFIG"

# A local runner named explicitly: Beam's plain DirectRunner first tries to
# download the Prism runner, which this tool must never do.
DEFAULT_BEAM_ARGS = ("--runner=FnApiRunner", "--direct_num_workers=1")

DEFAULT_MODELS = (
    ("non_embedding", "tft_build.models:build_non_embedding_model"),
    ("embedding", "tft_build.models:build_embedding_model"),
)


@dataclass(frozen=True)
class Config:
    """Every setting of a pipeline run (the seed's ``MLMetaData`` and more)."""

    project_dir: Path
    train_data: tuple[str, ...] = ("data/train.csv",)
    eval_data: tuple[str, ...] = ("data/eval.csv",)
    columns: tuple[Column, ...] = columns_from_pairs(TAXI_COLUMNS)
    label: str = "fare_amount"
    key_column: str = "key"
    artifacts_dir: Path = Path("artifacts")
    noise_floor_file: str = "data/noise_floor.json"
    nbuckets: int = 10
    batch_size: int = 256
    epochs: int = 60
    patience: int = 6
    lr_patience: int = 1
    learning_rate: float = 0.003
    seed: int = 2026
    preprocessing_fn: str = "tft_build.preprocessing:preprocessing_fn"
    row_filter: str = "tft_build.rowfilter:is_clean_ride"
    models: tuple[tuple[str, str], ...] = DEFAULT_MODELS
    beam_pipeline_args: tuple[str, ...] = DEFAULT_BEAM_ARGS
    on_bad_rows: str = "fail"  # or "skip": drop malformed rows into a quarantine file
    config_files: tuple[str, ...] = ()  # the files these settings came from (not a setting)

    def column(self, name):
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    def model_builder(self, model):
        """The dotted path of the builder of the model called ``model``."""
        return dict(self.models)[model]

    def artifact(self, *parts):
        """A path under the artifacts dir, as a canonical string.

        doit links a consumer to its producer only when the strings are equal,
        so every task names artifacts through this one function.
        """
        return str(self.artifacts_dir.joinpath(*parts))


FIELDS = {f.name: f for f in dataclasses.fields(Config) if f.name not in ("project_dir", "config_files")}
BAD_ROW_POLICIES = ("fail", "skip")
PATH_LIST_KEYS = ("train_data", "eval_data")
PATH_KEYS = ("artifacts_dir", "noise_floor_file")
SCALAR_TYPES = {
    "label": str, "key_column": str, "nbuckets": int, "batch_size": int,
    "epochs": int, "patience": int, "lr_patience": int, "learning_rate": float, "seed": int,
    "preprocessing_fn": str, "row_filter": str, "on_bad_rows": str,
}


def load_config(project_dir=".", environ=None):
    """The config of the project in ``project_dir``, with the env override."""
    environ = os.environ if environ is None else environ
    project_dir = Path(project_dir).resolve()
    values, sources = {}, []
    pyproject = project_dir / "pyproject.toml"
    if pyproject.exists():
        table = _read_toml(pyproject).get("tool", {}).get("tft_build", {})
        values.update(_parse_table(table, pyproject))
        sources.append(str(pyproject))
    override = environ.get(ENV_VAR)
    if override:
        path = Path(override)
        path = path if path.is_absolute() else project_dir / path
        if not path.is_file():
            raise ConfigError(f"{ENV_VAR}={override}: no such config file")
        table = _read_toml(path)
        table = table.get("tool", {}).get("tft_build", table)
        values.update(_parse_table(table, path))
        sources.append(str(path))
    cfg = _absolute_paths(Config(project_dir=project_dir, config_files=tuple(sources), **values))
    _check_consistency(cfg, pyproject if not override else Path(override))
    return cfg


def _absolute_paths(cfg):
    """The defaults' relative paths made absolute against the project dir."""
    root = cfg.project_dir
    return dataclasses.replace(
        cfg,
        train_data=tuple(_resolve(root, p, "train_data") for p in cfg.train_data),
        eval_data=tuple(_resolve(root, p, "eval_data") for p in cfg.eval_data),
        artifacts_dir=root / cfg.artifacts_dir,
        noise_floor_file=_resolve(root, cfg.noise_floor_file, "noise_floor_file")
        if cfg.noise_floor_file else "",
    )


def _read_toml(path):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None


def _parse_table(table, path):
    """Validated ``Config`` keyword arguments from one TOML table."""
    values = {}
    base = path.parent.resolve()
    for key, value in table.items():
        where = f"{path}: setting '{key}'"
        if key not in FIELDS:
            known = ", ".join(sorted(FIELDS))
            raise ConfigError(f"{path}: unknown setting '{key}' (known: {known})")
        if key in PATH_LIST_KEYS:
            values[key] = tuple(_resolve(base, p, where) for p in _str_list(value, where))
        elif key in PATH_KEYS:
            values[key] = _resolve(base, _typed(value, str, where), where)
        elif key == "columns":
            values[key] = _parse_columns(value, where)
        elif key == "models":
            values[key] = _parse_models(value, where)
        elif key == "beam_pipeline_args":
            values[key] = tuple(_str_list(value, where))
        else:
            values[key] = _typed(value, SCALAR_TYPES[key], where)
    if "artifacts_dir" in values:
        values["artifacts_dir"] = Path(values["artifacts_dir"])
    return values


def _resolve(base, path, where):
    if not path:
        raise ConfigError(f"{where}: empty path")
    return str(base / path) if not os.path.isabs(path) and "://" not in path else path


def _typed(value, type_, where):
    # bool is an int in Python, but `epochs = true` is a mistake, not 1.
    ok = isinstance(value, type_) and not isinstance(value, bool)
    if type_ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(
            f"{where}: expected {type_.__name__}, got {type(value).__name__} {value!r}"
        )
    if type_ in (int, float) and value <= 0 and "seed" not in where:
        raise ConfigError(f"{where}: must be positive, got {value!r}")
    return value


def _str_list(value, where):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")
    return value


def _parse_columns(value, where):
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: expected a table of column = type, e.g. fare = \"float\"")
    for name, type_ in value.items():
        if type_ not in COLUMN_TYPES:
            raise ConfigError(
                f"{where}: column '{name}' has type {type_!r}; use one of {', '.join(COLUMN_TYPES)}"
            )
    return columns_from_pairs(value.items())


def _parse_models(value, where):
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: expected a table of model name = \"module:builder\"")
    for name, builder in value.items():
        if not name.isidentifier():
            raise ConfigError(f"{where}: model name {name!r} must be a Python identifier")
        _dotted(builder, f"{where}: model '{name}'")
    return tuple(value.items())


def _dotted(value, where):
    if not isinstance(value, str) or value.count(":") != 1:
        raise ConfigError(f"{where}: expected \"package.module:function\", got {value!r}")
    return value


def _check_consistency(cfg, path):
    names = [c.name for c in cfg.columns]
    where = f"{path}"
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: duplicate column names in 'columns'")
    if cfg.label not in names:
        raise ConfigError(f"{where}: label '{cfg.label}' is not a column ({', '.join(names)})")
    if cfg.column(cfg.label).type == "string":
        raise ConfigError(f"{where}: label '{cfg.label}' must be a float or int column")
    if cfg.key_column and cfg.key_column not in names:
        raise ConfigError(f"{where}: key_column '{cfg.key_column}' is not a column")
    _dotted(cfg.preprocessing_fn, f"{where}: setting 'preprocessing_fn'")
    _dotted(cfg.row_filter, f"{where}: setting 'row_filter'")
    if cfg.on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError(f"{where}: setting 'on_bad_rows' is {cfg.on_bad_rows!r}; use \"fail\" or \"skip\"")


def data_files(cfg, split):
    """The sorted files that the ``split`` ("train" or "eval") globs match."""
    patterns = cfg.train_data if split == "train" else cfg.eval_data
    files = []
    for pattern in patterns:
        files.extend(sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern])
    return files


def settings_for(cfg, *names):
    """The named settings as a JSON-able dict, for ``config_changed``."""
    out = {}
    for name in names:
        value = getattr(cfg, name)
        if name == "columns":
            value = [[c.name, c.type] for c in value]
        elif isinstance(value, tuple):
            value = [list(v) if isinstance(v, tuple) else v for v in value]
        elif isinstance(value, Path):
            value = str(value)
        out[name] = value
    return out
