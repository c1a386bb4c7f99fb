"""The config: defaults, pyproject table, env override, clear errors.

Each test's project starts as a copy of the taxi example's settings (the
repo's ``pyproject.toml``), as a user's copy of the example would.
"""

import pytest
from support import ROOT, taxi_config

from tft_build.config.settings import CACHE_ENV_VAR, ENV_VAR, Config, data_files, load_config
from tft_build.engine.uptodate import settings_for
from tft_build.errors import ConfigError


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def taxi_project(tmp_path):
    """The test's project dir, with the taxi example's settings."""
    write(tmp_path / "pyproject.toml", taxi_config())
    return tmp_path


def test_the_taxi_example_is_its_own_config(tmp_path):
    for cfg in (load_config(tmp_path, environ={}), load_config(ROOT, environ={})):
        assert cfg.label == "fare_amount"
        assert [c.name for c in cfg.columns][:2] == ["key", "fare_amount"]
        assert dict(cfg.models)["embedding"] == "tft_build.examples.taxi.models:build_embedding_model"
        assert cfg.row_filter == "tft_build.examples.taxi.rowfilter:is_clean_ride"
    assert cfg.artifacts_dir == ROOT / "artifacts"
    assert cfg.train_data == (str(ROOT / "data/train.csv"),)


def test_the_defaults_are_for_any_data(tmp_path):
    write(tmp_path / "pyproject.toml", '[tool.tft_build]\ntrain_data = "t.csv"\neval_data = "e.csv"\nlabel = "y"\n'
          '[tool.tft_build.columns]\ny = "float"\nx = "string"\n')
    cfg = load_config(tmp_path, environ={})
    assert cfg.preprocessing_fn == "tft_build.generic.preprocessing:preprocessing_fn"
    assert cfg.row_filter == "tft_build.generic.rowfilter:keep_all"
    assert cfg.models == (("default", "tft_build.generic.models:build_default_model"),)
    assert (cfg.key_column, cfg.noise_floor_file, cfg.artifacts_dir) == ("", "", tmp_path / "artifacts")


def test_a_project_names_its_data_columns_and_label(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.tft_build]\nepochs = 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, environ={})
    assert "no setting 'train_data', 'eval_data', 'columns', 'label'" in str(err.value)
    assert "tft-tasks init-config" in str(err.value) and "\n" not in str(err.value)


def test_former_dotted_paths_read_as_where_the_code_is_now(tmp_path):
    write(tmp_path / "c.toml", 'row_filter = "tft_build.rowfilter:keep_all"\n'
          'preprocessing_fn = "tft_build.preprocessing:preprocessing_fn"\n[models]\n'
          'a = "tft_build.models:build_default_model"\nb = "tft_build.models:build_embedding_model"\n')
    cfg = load_config(tmp_path, environ={ENV_VAR: "c.toml"})
    assert cfg.row_filter == "tft_build.generic.rowfilter:keep_all"
    assert cfg.preprocessing_fn == "tft_build.examples.taxi.preprocessing:preprocessing_fn"
    assert cfg.models == (("a", "tft_build.generic.models:build_default_model"),
                          ("b", "tft_build.examples.taxi.models:build_embedding_model"))


def test_pyproject_table_then_env_override(tmp_path):
    write(tmp_path / "pyproject.toml", taxi_config(nbuckets=7, epochs=3))
    sub = tmp_path / "conf"
    sub.mkdir()
    write(sub / "over.toml", 'epochs = 5\ntrain_data = ["shards/*.csv"]\nartifacts_dir = "out"\n')
    cfg = load_config(tmp_path, environ={ENV_VAR: str(sub / "over.toml")})
    assert (cfg.nbuckets, cfg.epochs) == (7, 5)
    # Relative paths are relative to the file that set them.
    assert cfg.train_data == (str(sub / "shards/*.csv"),)
    assert cfg.artifacts_dir == sub / "out"


def test_override_may_use_the_tool_table(tmp_path):
    write(tmp_path / "c.toml", "[tool.tft_build]\nbatch_size = 64\n")
    assert load_config(tmp_path, environ={ENV_VAR: "c.toml"}).batch_size == 64


def test_tf_compat_v1_is_on_unless_turned_off(tmp_path):
    assert load_config(tmp_path, environ={}).tf_compat_v1 is True
    write(tmp_path / "c.toml", "tf_compat_v1 = false\n")
    assert load_config(tmp_path, environ={ENV_VAR: "c.toml"}).tf_compat_v1 is False


def test_columns_and_models_tables(tmp_path):
    write(tmp_path / "c.toml", 'label = "y"\nkey_column = ""\n'
          '[columns]\ny = "float"\nx = "int"\n[models]\nmine = "pkg.mod:build"\n')
    cfg = load_config(tmp_path, environ={ENV_VAR: "c.toml"})
    assert [(c.name, c.type) for c in cfg.columns] == [("y", "float"), ("x", "int")]
    assert cfg.models == (("mine", "pkg.mod:build"),)


@pytest.mark.parametrize(
    "text, message",
    [
        ("nbucket = 3\n", "unknown setting 'nbucket'"),
        ('epochs = "ten"\n', "setting 'epochs': expected int, got str"),
        ("epochs = true\n", "setting 'epochs': expected int, got bool"),
        ('tf_compat_v1 = "no"\n', "setting 'tf_compat_v1': expected bool, got str"),
        ("batch_size = 0\n", "must be positive"),
        ('label = "tip"\n', "label 'tip' is not a column"),
        ('label = "key"\nobjective = "regression"\n', "regression needs a float or int label"),
        ('objective = "ranking"\n', "use \"regression\" or \"classification\""),
        ("header = 1\n", "setting 'header': expected true, false or \"auto\", got 1"),
        ('header = "yes"\n', "setting 'header': expected true, false or \"auto\", got 'yes'"),
        ('[columns]\nx = {type = "int", default = "zero"}\n', "column 'x' default: expected int, got str"),
        ('[columns]\nx = {type = "int", deflt = 0}\n', "column 'x': expected {type"),
        ('[columns]\nt = {type = "timestamp", default = "today"}\n', "'today' is not a timestamp"),
        ('[columns]\nt = {type = "date", default = "2012-01-01", format = "%d.%m.%Y"}\n',
         "column 't': '2012-01-01' is not a date in the column's format '%d.%m.%Y'"),
        ('[columns]\nt = {type = "date", format = "%d.%m.%Y %H"}\n',
         "column 't': format '%d.%m.%Y %H': a date has no %H"),
        ('[columns]\nt = {type = "timestamp", format = "%Q"}\n', "column 't': format '%Q': '%Q' is not one of"),
        ('[columns]\nt = {type = "timestamp", format = 1}\n', "column 't' format: expected str, got int"),
        ('[columns]\nt = {type = "float", format = "%Y"}\n', "column 't': a format is for date and timestamp columns"),
        ('label = "d"\nobjective = "regression"\n[columns]\nd = "date"\n', "label 'd' is a date column; regression"),
        ('label = "y"\n[columns]\ny = {type = "float", default = 0}\n',
         "label 'y' has default 0.0; a label's default can only mark"),
        ('preprocessing_fn = "no_colon"\n', "expected \"package.module:function\""),
        ('[columns]\nx = "double"\n', "use one of string, float, int"),
        ("epochs = [\n", "not valid TOML"),
        ('transform_engine = "spark"\n', "setting 'transform_engine' is 'spark'; use \"auto\" or \"beam\""),
        ('[models]\nreference = "pkg.mod:build"\n', "model name 'reference' is taken (train_reference_model"),
    ],
)
def test_bad_config_is_a_one_line_error(tmp_path, text, message):
    write(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path, environ={ENV_VAR: "c.toml"})
    assert message in str(err.value)
    assert "c.toml" in str(err.value)
    assert "\n" not in str(err.value)


def test_date_columns_and_their_format_are_settings_of_the_transform(tmp_path):
    top = 'label = "y"\nkey_column = ""\n[columns]\ny = "float"\nd = "date"\n'
    column = 't = {type = "timestamp", format = "%d.%m.%Y %H:%M", default = "1.1.2012 0:00"}\n'
    write(tmp_path / "c.toml", top + column)
    cfg = load_config(tmp_path, environ={ENV_VAR: "c.toml"})
    assert [(c.type, c.format, c.default) for c in cfg.columns][1:] == [
        ("date", "", None), ("timestamp", "%d.%m.%Y %H:%M", "1.1.2012 0:00")]
    assert settings_for(cfg, "columns")["columns"][1:] == [
        ["d", "date"], ["t", "timestamp", "1.1.2012 0:00", {"format": "%d.%m.%Y %H:%M"}]]
    write(tmp_path / "c.toml", top + column.replace("%H:%M", "%H.%M").replace("0:00", "0.00"))
    changed = load_config(tmp_path, environ={ENV_VAR: "c.toml"})
    assert settings_for(changed, "columns") != settings_for(cfg, "columns")  # a new format reruns the transform


def test_project_config_file_optional_columns_and_objective(tmp_path):
    write(tmp_path / "tft_build.toml", 'label = "y"\nheader = false\nnoise_floor_file = ""\nkey_column = ""\n'
          '[columns]\ns = {type = "string", default = ""}\nn = {type = "float", default = 2}\ny = "string"\n')
    cfg = load_config(tmp_path, environ={})
    assert [(c.name, c.default) for c in cfg.columns] == [("s", ""), ("n", 2.0), ("y", None)]
    assert cfg.header is False and cfg.noise_floor_file == ""
    assert cfg.objective == "classification"  # a string label is classes
    assert cfg.where("label") == f"{tmp_path / 'tft_build.toml'}: setting 'label'"
    assert cfg.code_dirs == (tmp_path,)
    assert settings_for(cfg, "columns")["columns"][:2] == [["s", "string", ""], ["n", "float", 2.0]]


def test_user_modules_are_found_beside_the_override_file(tmp_path):
    sub = tmp_path / "elsewhere"
    sub.mkdir()
    write(sub / "c.toml", "epochs = 2\n")
    cfg = load_config(tmp_path, environ={ENV_VAR: str(sub / "c.toml")})
    assert cfg.code_dirs == (tmp_path, sub)
    assert cfg.objective == "regression"


def test_missing_override_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path, environ={ENV_VAR: "nope.toml"})


def test_data_files_expands_globs_sorted(tmp_path):
    for name in ("b.csv", "a.csv"):
        write(tmp_path / name, "")
    write(tmp_path / "c.toml", 'train_data = ["*.csv"]\n')
    cfg = load_config(tmp_path, environ={ENV_VAR: "c.toml"})
    assert data_files(cfg, "train") == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]


def test_the_projects_own_path_is_no_glob(tmp_path):
    """A project in `my proj [v2]`: its paths are absolute, and their brackets are not a pattern."""
    root = tmp_path / "my proj [v2]"
    (root / "data").mkdir(parents=True)
    for name in ("train.csv", "part-1.csv", "part-2.csv"):
        write(root / "data" / name, "")
    cfg = Config(project_dir=root, train_data=(f"{root}/data/train.csv",), eval_data=(f"{root}/dat[a]/part-*.csv",))
    assert data_files(cfg, "train") == [str(root / "data" / "train.csv")]
    assert data_files(cfg, "eval") == [str(root / "data" / "part-1.csv"), str(root / "data" / "part-2.csv")]


def test_settings_for_is_json_friendly(tmp_path):
    cfg = load_config(tmp_path, environ={})
    settings = settings_for(cfg, "columns", "nbuckets", "beam_pipeline_args")
    assert settings["nbuckets"] == 10
    assert settings["columns"][0] == ["key", "string"]
    assert isinstance(settings["beam_pipeline_args"], list)


def test_the_build_cache_dir_from_the_user_cache_a_config_file_or_the_environment(tmp_path):
    assert load_config(tmp_path, environ={"XDG_CACHE_HOME": "/x"}).cache_dir == "/x/tft_build"
    write(tmp_path / "pyproject.toml", taxi_config(cache_dir="cache", cache_max_size="2GiB"))
    cfg = load_config(tmp_path, environ={"XDG_CACHE_HOME": "/x"})
    assert (cfg.cache_dir, cfg.cache_max_size) == (str(tmp_path / "cache"), "2GiB")
    off = load_config(tmp_path, environ={CACHE_ENV_VAR: ""})
    assert off.cache_dir == "" and off.where("cache_dir") == f"${CACHE_ENV_VAR}: setting 'cache_dir'"
    assert load_config(tmp_path, environ={CACHE_ENV_VAR: "gs://team/cache"}).cache_dir == "gs://team/cache"
    write(tmp_path / "pyproject.toml", taxi_config(cache_max_size="5 parsecs"))
    with pytest.raises(ConfigError, match="cache_max_size.*is not a size"):
        load_config(tmp_path, environ={})


def test_stored_paths_are_relative_to_the_project(tmp_path):
    """A moved project reads the same settings (tft_build.engine.portable)."""
    for root in (tmp_path / "a", tmp_path / "b"):
        root.mkdir()
        write(root / "pyproject.toml", taxi_config())
    here, there = (load_config(root, environ={}) for root in (tmp_path / "a", tmp_path / "b"))
    assert settings_for(here, "noise_floor_file") == {"noise_floor_file": "$PROJECT/data/noise_floor.json"}
    assert settings_for(here, "noise_floor_file") == settings_for(there, "noise_floor_file")
