"""The pipeline's settings: one frozen dataclass, read from TOML.

Settings come, lowest priority first, from the defaults below (for any
data: one feature per column, every row, one default model; a project
names its data, columns and label), the ``[tool.tft_build]`` table of the project's ``pyproject.toml``,
a ``tft_build.toml`` in the project dir (what ``tft-tasks init-config``
writes) and a TOML file named by the environment variable
``TFT_BUILD_CONFIG``; the last two take their keys at top level or under
``[tool.tft_build]``; ``$TFT_BUILD_CACHE_DIR``, when set, is ``cache_dir``.
Relative paths are relative to the file that set them,
so a config file can live beside its data, and user modules named by dotted
path are found beside the project or any of its config files.

The config is passed explicitly to every task and step; each task declares
the part it reads (:func:`settings_for`) so that changing a setting reruns
exactly the tasks that read it.
"""

import dataclasses
import glob
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tft_build import former, layout
from tft_build.config.schema import COLUMN_TYPES, Column
from tft_build.config.sizes import parse_size
from tft_build.errors import ConfigError, DataError
from tft_build.io import csvio, location, timestamps

ENV_VAR = "TFT_BUILD_CONFIG"
CACHE_ENV_VAR = "TFT_BUILD_CACHE_DIR"  # overrides cache_dir; "" turns the build cache off
PROJECT_CONFIG = "tft_build.toml"
OBJECTIVES = ("regression", "classification")

# A local runner named explicitly: Beam's plain DirectRunner first tries to
# download the Prism runner, which this tool must never do.
DEFAULT_BEAM_ARGS = ("--runner=FnApiRunner", "--direct_num_workers=1")

# For data tft_build knows nothing about: one feature per column, every row, one network.
DEFAULT_PREPROCESSING_FN = "tft_build.generic.preprocessing:preprocessing_fn"
DEFAULT_ROW_FILTER = "tft_build.generic.rowfilter:keep_all"
DEFAULT_SLICE_FN = "tft_build.generic.slices:no_columns"
DEFAULT_MODELS = (("default", "tft_build.generic.models:build_default_model"),)
# A model name whose tasks' names are taken: train_reference_model fits the reference model.
RESERVED_MODEL_NAMES = (layout.REFERENCE,)
# What a project must say: its data, their columns and the label (the rest has defaults).
REQUIRED = ("train_data", "eval_data", "columns", "label")


@dataclass(frozen=True)
class Config:
    """Every setting of a pipeline run (the seed's ``MLMetaData`` and more)."""

    project_dir: Path
    train_data: tuple[str, ...] = ()
    eval_data: tuple[str, ...] = ()
    # name = "type" (string, int, float, date, timestamp), or {type = "...", default = ..., format = "..."}:
    # a default makes a column optional; a format ("%d.%m.%Y %H:%M") gives a date or timestamp column its own form.
    columns: tuple[Column, ...] = ()
    # True: every CSV starts with a header row; False: none does (columns in config order); "auto": decided per
    # file, a first row that names the columns or is no valid data row being a header (tft_build.io.csvio).
    header: bool | str = csvio.AUTO
    label: str = ""
    objective: str = ""  # "regression" or "classification"; "" picks by the label's type
    key_column: str = ""  # a column that names each row, copied into the predictions; "": none
    artifacts_dir: Path = Path("artifacts")
    noise_floor_file: str = ""  # the best RMSE the data allows, shown beside the metrics; "": unknown
    # Quantile buckets of each latitude and longitude; the taxi crosses keep only ids with enough rides,
    # so 10 holds from a few thousand rows (few ids kept) to millions (all 10**4 trips).
    nbuckets: int = 10
    # Small batches: a few thousand rows still make enough steps per epoch to learn before early stopping.
    batch_size: int = 64
    epochs: int = 60
    # Epochs without a better validation loss before training stops (patience) and before the learning
    # rate is halved (lr_patience): a validation share of a small data set is noisy, so one bad epoch is not enough.
    patience: int = 10
    lr_patience: int = 2
    # The share of the training rows held out to choose the epochs and the learning rate; the eval data only measures.
    validation_fraction: float = 0.1
    learning_rate: float = 0.003
    seed: int = 2026
    preprocessing_fn: str = DEFAULT_PREPROCESSING_FN
    # TFT traces preprocessing_fn in TF1 graph mode (tf.Transform's force_tf_compat_v1): one trace and one saved
    # graph, about 3 s less per transform than TF2 mode's traces and SavedModels of each analysis phase.
    # False: TF2 mode, for a preprocessing_fn that needs it (tf.function or Keras layers inside).
    tf_compat_v1: bool = True
    row_filter: str = DEFAULT_ROW_FILTER
    models: tuple[tuple[str, str], ...] = DEFAULT_MODELS
    # Sliced metrics: the eval rows' metrics per slice of each column named here, a raw column or one that
    # slice_fn ("module:function", columns -> more columns) returns; a float column is cut into
    # slice_buckets buckets at quantiles of its eval values, any other's values are its slices.
    slices: tuple[str, ...] = ()
    slice_fn: str = DEFAULT_SLICE_FN
    slice_buckets: int = 4
    beam_pipeline_args: tuple[str, ...] = DEFAULT_BEAM_ARGS
    # "auto": where beam_pipeline_args name the local runner in one process (the default), the Beam steps run
    # tf.Transform's analysis in the task's own process, without Beam's fixed cost of seconds, to the same
    # bytes (tft_build.steps.localtft); "beam": through Beam always.
    transform_engine: str = "auto"
    # Where Beam steps write their bulk output for workers on other machines
    # (gs://, s3://, hdfs:// or a shared dir); "": inside artifacts_dir.
    shared_dir: str = ""
    on_bad_rows: str = "fail"  # or "skip": drop malformed rows into a quarantine file
    # Know your data (tft_build.datacheck): the transform gathers each split's statistics and checks them against
    # the schema file (inferred into it on the first build, then the user's to edit); anomalies fail the
    # transform only with fail_on_anomalies.
    statistics: bool = True
    schema_file: str = "tft_build.schema.toml"
    fail_on_anomalies: bool = False
    # The build cache (tft_build.engine.buildcache): a dir or a URL (gs://, s3://, hdfs://), maybe shared by checkouts
    # and machines; None: $XDG_CACHE_HOME/tft_build; "": no cache.
    cache_dir: str | None = None
    cache_max_size: str = "5GB"  # least recently used builds go past this
    # Minutes a warm worker (tft_build.engine.warm: TensorFlow, TFT and Beam loaded, ready for the steps of the
    # next doit) waits for a step before it exits; 0: none, each doit loads them again.
    warm_minutes: float = 10.0
    config_files: tuple[str, ...] = ()  # the files these settings came from (not a setting)
    origins: tuple[tuple[str, str], ...] = ()  # (setting, file that set it last) (not a setting)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    def model_builder(self, model: str) -> str:
        """The dotted path of the builder of the model called ``model``."""
        return dict(self.models)[model]

    def where(self, setting: str) -> str:
        """``file: setting 'name'``: where a user fixes ``setting``, for error messages."""
        source = dict(self.origins).get(setting.partition(".")[0], "default settings")
        return f"{source}: setting '{setting}'"

    @property
    def code_dirs(self) -> tuple[Path, ...]:
        """Where user modules named by dotted path live: the project dir, then each config file's dir."""
        dirs = [self.project_dir] + [Path(f).parent for f in self.config_files]
        return tuple(dict.fromkeys(dirs))

    @property
    def classification(self) -> bool:
        return self.objective == "classification"

    def artifact(self, *parts: str) -> str:
        """A path under the artifacts dir, as a canonical string.

        doit links a consumer to its producer only when the strings are equal,
        so every task names artifacts through this one function.
        """
        return str(self.artifacts_dir.joinpath(*parts))


NOT_SETTINGS = ("project_dir", "config_files", "origins")
FIELDS = {f.name: f for f in dataclasses.fields(Config) if f.name not in NOT_SETTINGS}
BAD_ROW_POLICIES = ("fail", "skip")
TRANSFORM_ENGINES = ("auto", "beam")
DEFAULT_TYPES = {"string": str, "date": str, "timestamp": str, "float": float, "int": int}
PATH_LIST_KEYS = ("train_data", "eval_data")
PLUGIN_KEYS = ("preprocessing_fn", "row_filter", "slice_fn")  # dotted paths, read as they are now (tft_build.former)
PATH_KEYS = ("artifacts_dir", "noise_floor_file", "shared_dir", "cache_dir", "schema_file")
MAY_BE_EMPTY = ("noise_floor_file", "shared_dir", "cache_dir")  # "": none
SCALAR_TYPES = {
    "label": str, "key_column": str, "nbuckets": int, "batch_size": int,
    "epochs": int, "patience": int, "lr_patience": int, "learning_rate": float, "seed": int,
    "validation_fraction": float,
    "slice_fn": str, "slice_buckets": int,
    "preprocessing_fn": str, "row_filter": str, "on_bad_rows": str, "objective": str, "transform_engine": str,
    "statistics": bool, "fail_on_anomalies": bool, "warm_minutes": float, "tf_compat_v1": bool,
}


def load_config(project_dir: str | Path = ".", environ: Mapping[str, str] | None = None) -> Config:
    """The config of the project in ``project_dir``, with the env override."""
    environ = os.environ if environ is None else environ
    project_dir = Path(project_dir).resolve()
    pyproject = project_dir / "pyproject.toml"
    files = [project_dir / PROJECT_CONFIG]
    override = environ.get(ENV_VAR)
    if override:
        path = Path(override)
        path = path if path.is_absolute() else project_dir / path
        if not path.is_file():
            raise ConfigError(f"{ENV_VAR}={override}: no such config file")
        files.append(path)
    tables = [(pyproject, _read_toml(pyproject).get("tool", {}).get("tft_build", {}))] if pyproject.exists() else []
    for path in filter(Path.exists, files):
        table = _read_toml(path)
        tables.append((path, table.get("tool", {}).get("tft_build", table)))
    values, origins, sources = {}, {}, []
    for path, table in tables:
        values.update(_parse_table(table, path))
        origins.update(dict.fromkeys(table, str(path)))
        sources.append(str(path))
    cfg = Config(project_dir=project_dir, config_files=tuple(sources), origins=tuple(origins.items()), **values)
    cfg = _absolute_paths(cfg)
    cfg = _with_cache_dir(cfg, environ)
    _check_consistency(cfg, Path(sources[-1]) if sources else project_dir)
    return _with_objective(cfg)


def _with_cache_dir(cfg, environ):
    """The config with ``cache_dir`` decided: ``$TFT_BUILD_CACHE_DIR`` when set (CI, or one run
    without the cache: ``TFT_BUILD_CACHE_DIR= doit``), else the configured one, else the user's."""
    if CACHE_ENV_VAR in environ:
        value = environ[CACHE_ENV_VAR]
        value = _resolve(cfg.project_dir, value, f"${CACHE_ENV_VAR}") if value else ""
        origins = cfg.origins + (("cache_dir", f"${CACHE_ENV_VAR}"),)
        return dataclasses.replace(cfg, cache_dir=value, origins=origins)
    if cfg.cache_dir is None:
        return dataclasses.replace(cfg, cache_dir=default_cache_dir(environ))
    return cfg


def default_cache_dir(environ: Mapping[str, str]) -> str:
    """The user's cache dir for tft_build: ``$XDG_CACHE_HOME/tft_build``, else ``~/.cache/tft_build``."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tft_build")


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
        schema_file=_resolve(root, cfg.schema_file, "schema_file"),
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
        elif key in MAY_BE_EMPTY and value == "":
            values[key] = ""
        elif key in PATH_KEYS:
            values[key] = _resolve(base, _typed(value, str, where), where)
        elif key == "columns":
            values[key] = _parse_columns(value, where)
        elif key == "models":
            values[key] = _parse_models(value, where)
        elif key == "slices":
            values[key] = _slice_names(value, where)
        elif key == "beam_pipeline_args":
            values[key] = tuple(_str_list(value, where))
        elif key == "cache_max_size":
            values[key] = _size(value, where)
        elif key == "header":
            values[key] = _header(value, where)
        elif key in PLUGIN_KEYS:
            values[key] = former.current_path(_typed(value, str, where))
        else:
            values[key] = _typed(value, SCALAR_TYPES[key], where, positive=key not in ("seed", "warm_minutes"))
    if "artifacts_dir" in values:
        values["artifacts_dir"] = Path(values["artifacts_dir"])
    return values


def _resolve(base, path, where):
    if not path:
        raise ConfigError(f"{where}: empty path")
    return str(base / path) if not os.path.isabs(path) and "://" not in path else path


def _typed(value, type_, where, positive=False):
    # bool is an int in Python, but `epochs = true` is a mistake, not 1.
    ok = isinstance(value, type_) and (type_ is bool or not isinstance(value, bool))
    if type_ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(
            f"{where}: expected {type_.__name__}, got {type(value).__name__} {value!r}"
        )
    if positive and type_ in (int, float) and value <= 0:
        raise ConfigError(f"{where}: must be positive, got {value!r}")
    return value


def _header(value, where):
    """The ``header`` setting: true, false or "auto"."""
    if value not in (True, False, csvio.AUTO) or not isinstance(value, bool | str):
        raise ConfigError(f'{where}: expected true, false or "{csvio.AUTO}", got {value!r}')
    return value


def _size(value, where):
    """A size as written (``"5GB"``, or bytes as a number), checked."""
    try:
        parse_size(value)
    except ValueError as err:
        raise ConfigError(f"{where}: {err}") from None
    return str(value)


def _str_list(value, where):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a string or a list of strings, got {value!r}")
    return value


def _slice_names(value, where):
    """The ``slices`` setting: a list of names, each once."""
    names = _str_list(value, where)
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"{where}: {', '.join(repr(n) for n in twice)} named more than once")
    return tuple(names)


def _parse_columns(value, where):
    """Columns from ``name = "type"`` or, for an optional column, ``name = {type = "...", default = ...}``."""
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: expected a table of column = type, e.g. fare = \"float\"")
    return tuple(_parse_column(name, spec, where) for name, spec in value.items())


def _parse_column(name, spec, where):
    where = f"{where}: column '{name}'"
    if isinstance(spec, dict):
        unknown = set(spec) - {"type", "default", "format"}
        if unknown or "type" not in spec:
            raise ConfigError(f"{where}: expected {{type = \"...\", default = ..., format = \"...\"}}, got {spec!r}")
        type_, default, fmt = spec["type"], spec.get("default"), spec.get("format", "")
    else:
        type_, default, fmt = spec, None, ""
    if type_ not in COLUMN_TYPES:
        raise ConfigError(f"{where}: type {type_!r}; use one of {', '.join(COLUMN_TYPES)}")
    if fmt:
        _check_format(type_, _typed(fmt, str, f"{where} format"), where)
    if default is not None:
        default = _typed(default, DEFAULT_TYPES[type_], f"{where} default")
        if type_ in timestamps.DATE_TYPES:
            try:
                timestamps.check(where, default, type_, fmt)
            except DataError as err:
                raise ConfigError(str(err)) from None
    return Column(name, type_, default, fmt)


def _check_format(type_, fmt, where):
    """A column's ``format``: only for dates and timestamps, and made of the directives it knows."""
    if type_ not in timestamps.DATE_TYPES:
        raise ConfigError(f"{where}: a format is for date and timestamp columns, not {type_}; remove it")
    try:
        timestamps.forms(type_, fmt)
    except ValueError as err:
        raise ConfigError(f"{where}: format {fmt!r}: {err}") from None


def _parse_models(value, where):
    if not isinstance(value, dict) or not value:
        raise ConfigError(f"{where}: expected a table of model name = \"module:builder\"")
    for name, builder in value.items():
        if not name.isidentifier():
            raise ConfigError(f"{where}: model name {name!r} must be a Python identifier")
        if name in RESERVED_MODEL_NAMES:
            raise ConfigError(f"{where}: model name {name!r} is taken (train_{name}_model fits the boosted-trees "
                              "reference model); call the model otherwise")
        _dotted(builder, f"{where}: model '{name}'")
    return tuple((name, former.current_path(builder)) for name, builder in value.items())


def _dotted(value, where):
    if not isinstance(value, str) or value.count(":") != 1:
        raise ConfigError(f"{where}: expected \"package.module:function\", got {value!r}")
    return value


def _check_consistency(cfg, path):
    names = [c.name for c in cfg.columns]
    where = f"{path}"
    missing = [name for name in REQUIRED if not getattr(cfg, name)]
    if missing:
        raise ConfigError(
            f"{where}: no setting {', '.join(repr(m) for m in missing)}; a project names its data, their columns "
            "and the label (`tft-tasks init-config TRAIN_CSV --label COLUMN` writes them)"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: duplicate column names in 'columns'")
    if cfg.label not in names:
        raise ConfigError(f"{where}: label '{cfg.label}' is not a column ({', '.join(names)})")
    label = cfg.column(cfg.label)
    if label.optional and not label.marks_no_label:
        raise ConfigError(
            f"{where}: label '{cfg.label}' has default {label.default!r}; a label's default can only mark a row "
            "without a label (nan for a float label, \"\" for a string one), which the row filter must drop"
        )
    if cfg.objective and cfg.objective not in OBJECTIVES:
        raise ConfigError(
            f"{where}: setting 'objective' is {cfg.objective!r}; use \"regression\" or \"classification\""
        )
    if label.type in ("string", *timestamps.DATE_TYPES) and cfg.objective == "regression":
        raise ConfigError(
            f"{where}: label '{cfg.label}' is a {label.type} column; regression needs a float or int label"
        )
    if cfg.key_column and cfg.key_column not in names:
        raise ConfigError(f"{where}: key_column '{cfg.key_column}' is not a column; name one, or set key_column = \"\"")
    _dotted(cfg.preprocessing_fn, f"{where}: setting 'preprocessing_fn'")
    _dotted(cfg.row_filter, f"{where}: setting 'row_filter'")
    _dotted(cfg.slice_fn, f"{where}: setting 'slice_fn'")
    if not 0 < cfg.validation_fraction < 1:
        raise ConfigError(f"{where}: setting 'validation_fraction' is {cfg.validation_fraction}; use a share like 0.1")
    if cfg.on_bad_rows not in BAD_ROW_POLICIES:
        raise ConfigError(f"{where}: setting 'on_bad_rows' is {cfg.on_bad_rows!r}; use \"fail\" or \"skip\"")
    if cfg.transform_engine not in TRANSFORM_ENGINES:
        raise ConfigError(f"{where}: setting 'transform_engine' is {cfg.transform_engine!r}; use \"auto\" or \"beam\"")


def _with_objective(cfg):
    """The config with ``objective`` decided: string labels are classes, numbers are regressed."""
    if cfg.objective:
        return cfg
    numeric = cfg.column(cfg.label).type in ("float", "int")
    return dataclasses.replace(cfg, objective="regression" if numeric else "classification")


# "Config" quoted: steps call this, and their code fingerprint follows the names of hints (the class would count)
def data_files(cfg: "Config", split: str) -> list[str]:
    """The sorted files that the ``split`` ("train" or "eval") globs match."""
    return matching_files(cfg.train_data if split == "train" else cfg.eval_data)


def matching_files(patterns: Iterable[str]) -> list[str]:
    """The files that each path or glob matches, sorted per pattern, local or remote."""
    files = []
    for pattern in patterns:
        if location.is_remote(pattern):
            files.extend(path for path, _, _ in location.match(pattern))
        else:
            files.extend(sorted(local_matches(pattern)) if glob.has_magic(pattern) else [pattern])
    return files


def local_matches(pattern: str) -> list[str]:
    """What a local glob matches, its magic read only after the longest leading dir that exists
    as written: the project's own path (``/home/me/my proj [v2]/data/*.csv``) is a path, not a glob."""
    if os.path.exists(pattern):
        return [pattern]
    parts = Path(pattern).parts
    fixed = next((i for i in range(len(parts) - 1, 0, -1) if os.path.isdir(os.path.join(*parts[:i]))), 0)
    root = os.path.join(*parts[:fixed]) if fixed else None
    found = glob.glob(os.path.join(*parts[fixed:]), root_dir=root)
    return [os.path.join(root, name) if root else name for name in found]
