"""`tft-tasks init-config`: inference from a CSV sample, the files it writes, its errors."""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tft_build.commands.init_config import main
from tft_build.config.infer import ColumnInfo, choose_key, choose_objective, detect_header, infer_columns
from tft_build.config.render import DODO, Skeleton, config_toml, pipeline_module
from tft_build.io.csvio import NA_VALUES

ROOT = Path(__file__).resolve().parents[2]

HOUSES = """\
id,neighborhood,year_built,rooms,area_m2,sold_at,price
h1,north,1968,3,80.5,2020-01-02 10:00:00,250000.5
h2,,1970,4,90.25,2020-02-03 11:00:00 UTC,300000
h3,south,NA,2,60,2020-03-04 12:00:00,199000
h4,north,1950,3,70.125,2020-04-05 13:00:00,210000
"""


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write(path, text):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def rows(text):
    return [line.split(",") for line in text.strip().splitlines()]


def column(name, type_, default=None, distinct=5, present=5, missing=0):
    return ColumnInfo(name, type_, default, distinct, present, missing)


def run(capsys, *argv):
    """``main(argv)``: the exit status, stdout, stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def read_config(directory="."):
    with open(Path(directory) / "tft_build.toml", "rb") as f:
        return tomllib.load(f)


# --- inference ---------------------------------------------------------------


def test_types_and_missing_values():
    sample = rows("""
        a,b,c,d,e,f,g
        1,1.5,2020-01-02 03:04:05,x,1,1,2020-01-02 03:04:05
        -2,2,2020-01-02 03:04:05 UTC,2,NA,1e3,N/A
        +3,nan,2021-12-31 23:59:59,y,null,inf,2020-01-02 03:04:05
        4,NaN,2022-02-28 00:00:00,, 6 ,5,
    """.replace(" " * 8, ""))
    got = {c.name: c for c in infer_columns(sample, header=True)}
    assert {n: c.type for n, c in got.items()} == {
        "a": "int", "b": "float", "c": "timestamp", "d": "string",
        "e": "int", "f": "string", "g": "timestamp",  # inf is not finite
    }
    assert {n: c.default for n, c in got.items()} == {
        "a": None, "b": 1.75, "c": None, "d": "", "e": 4, "f": None, "g": "2020-01-02 03:04:05",
    }
    assert (got["e"].missing, got["e"].present, got["e"].distinct) == (2, 2, 2)
    assert got["d"].optional and not got["a"].optional


def test_na_spellings_are_missing():
    assert NA_VALUES == ("", "NA", "N/A", "NaN", "nan", "null", "NULL")
    sample = [["x"]] + [[v] for v in NA_VALUES] + [[" NULL "], ["7"]]
    (x,) = infer_columns(sample, header=True)
    assert (x.type, x.default, x.missing) == ("int", 7, len(NA_VALUES) + 1)


def test_defaults_are_medians():
    sample = [["i", "f"], ["1", "1234567.0"], ["2", "1234569.0"], ["", "NA"]]
    i, f = infer_columns(sample, header=True)
    assert (i.default, f.default) == (2, 1235000.0)  # median 1.5 rounds to even; 4 significant digits


@pytest.mark.parametrize("values, type_", [
    (["2012/01/01", "2012/12/31"], "date"),
    (["2012-01-01", "2012-1-2"], "date"),
    (["2012-01-01", "2012/01/02"], "date"),                            # each value in either form
    (["2012-01-01T08:15:00Z", "2012-01-01 08:15:00.5+02:00"], "timestamp"),
    (["2012-01-01", "2012-01-01T08:15:00Z"], "timestamp"),             # a date is a timestamp at midnight
    (["2020-01-02 03:04:05", "2020-02-30 00:00:00"], "string"),         # no such day
    (["2020-01-02 03:04:05", "2020-01-02 03:04:05 CET"], "string"),
    (["2012-01-01", "01/02/2012"], "string"),
])
def test_dates_and_timestamps(values, type_):
    (t,) = infer_columns([["t"], *([v] for v in values)], header=True)
    assert t.type == type_


def test_dates_with_gaps_default_to_the_median_time():
    sample = [["d", "t"], ["2012/03/01", "2012-01-01T23:00:00-05:00"], ["NA", ""],
              ["2012-01-01", "2012-01-02 03:00:00"], ["2012-02-01", "2012-01-02 07:00:00+01:00"]]
    d, t = infer_columns(sample, header=True)
    assert (d.type, d.default, d.missing) == ("date", "2012-02-01", 1)
    assert (t.type, t.default) == ("timestamp", "2012-01-01T23:00:00-05:00")  # 04:00 UTC, between 03:00 and 06:00


def test_headerless_columns_are_numbered():
    names = [c.name for c in infer_columns(rows("1,a,2.5\n2,b,3"), header=False)]
    assert names == ["col_1", "col_2", "col_3"]


# --- header detection --------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("id,price\na,1.5\nb,2", True),                      # "price" is not a float
    ("when,n\n2020-01-02 03:04:05,1\n2020-01-03 03:04:05,2", True),
    ("1,1.5\n2,2.5", False),                             # all numbers
    ("a,1.5\nb,2.5", False),                             # "1.5" is a value, not a name
    ("x,x\n1,2\n3,4", True),                             # identifiers atop numbers, even repeated
    ("name,city\nann,paris\nbob,rome", True),            # all text: assumed
    (",city\nann,paris\nbob,rome", False),               # all text, but an empty first field
])
def test_detect_header(text, expected):
    assert detect_header(rows(text))[0] is expected


def test_all_text_header_is_said_to_be_assumed():
    assert "assumed" in detect_header(rows("name,city\nann,paris"))[1]


def test_header_is_detected_forced_and_reported(capsys):
    write("plain.csv", "1,a,2.5\n2,b,3.5\n3,c,4.5\n")
    status, out, _ = run(capsys, "plain.csv", "--label", "3")
    assert status == 0 and "header: no" in out and 'header = "auto" decides it for each file' in out
    assert read_config()["header"] == "auto"  # the sample has none; each file decides when read
    assert list(read_config()["columns"]) == ["col_1", "col_2", "col_3"]
    assert read_config()["label"] == "col_3"

    status, out, _ = run(capsys, "plain.csv", "--label", "1", "--header", "--force")
    assert status == 0 and "header: yes (--header)" in out
    assert list(read_config()["columns"]) == ["1", "a", "2.5"]  # forced: the first row names them
    assert read_config()["header"] is True
    assert read_config()["label"] == "1"

    write("texts.csv", "name,city\nann,paris\nbob,rome\n")
    status, out, _ = run(capsys, "texts.csv", "--label", "col_2", "--no-header", "--force")
    assert status == 0 and "header: no (--no-header)" in out
    assert "col_2" in read_config()["columns"] and read_config()["objective"] == "classification"

    status, out, _ = run(capsys, "texts.csv", "--label", "city", "--force")
    assert status == 0 and "header: yes (assumed" in out


# --- label, objective, key ---------------------------------------------------


@pytest.mark.parametrize("label, objective", [
    (column("y", "string"), "classification"),
    (column("y", "int", distinct=10), "classification"),
    (column("y", "int", distinct=11), "regression"),
    (column("y", "float", distinct=2), "regression"),
])
def test_objective(label, objective):
    assert choose_objective(label)[0] == objective


@pytest.mark.parametrize("columns, label, key", [
    ([column("ID", "string"), column("y", "float")], "y", "ID"),
    ([column("x", "float"), column("user_key", "int"), column("row_id", "string")], "x", "user_key"),
    ([column("id", "string", distinct=4), column("Row_Id", "int")], "x", "Row_Id"),   # duplicates: not a key
    ([column("id", "string", "", distinct=4, present=4, missing=1)], "x", ""),         # missing: not a key
    ([column("id", "float"), column("idx", "string"), column("paid", "int")], "x", ""),
    ([column("id", "int"), column("key", "string")], "id", "key"),                     # the label is no key
])
def test_key(columns, label, key):
    assert choose_key(columns, label, rows=5) == key


def test_unnamed_unique_text_is_the_key_given_enough_rows():
    columns = [column("col_1", "float"), column("col_2", "string"), column("col_3", "string")]
    assert choose_key(columns, "col_1", rows=100) == "col_2"
    assert choose_key(columns, "col_1", rows=5) == ""


def test_label_choice_is_printed(capsys):
    write("d.csv", "id,kind,n\na,cat,1\nb,dog,2\nc,cat,3\n")
    status, out, _ = run(capsys, "d.csv", "--label", "kind")
    assert status == 0
    assert "objective: classification (the label 'kind' is text)" in out
    assert "key column: id" in out


# --- the files ---------------------------------------------------------------


def test_config_round_trips_through_tomllib(capsys):
    write("data/train-1.csv", 'id,"sale price",a.b,"quo""te",ünï,n,sold_at,x\n'
          "k1,1.5,u,v,w,1,2020-01-02 03:04:05,1\nk2,2.5,,v,w,,2020-01-02 03:04:05,2\n")
    write("data/train-2.csv", "not read\n")
    write("data/eval.csv", "")
    status, out, err = run(capsys, "data/train-*.csv", "--eval", "data/eval.csv", "--label", "sale price",
                           "--dir", "proj")
    assert (status, err) == (0, "")
    text = (Path("proj") / "tft_build.toml").read_text()
    assert read_config("proj") == {
        "train_data": ["../data/train-*.csv"],
        "eval_data": ["../data/eval.csv"],
        "header": "auto",
        "label": "sale price",
        "objective": "regression",
        "key_column": "id",
        "preprocessing_fn": "my_pipeline:preprocessing_fn",
        "row_filter": "my_pipeline:keep_row",
        "noise_floor_file": "",
        "epochs": 30,
        "patience": 4,
        "columns": {
            "id": "string",
            "sale price": "float",
            "a.b": {"type": "string", "default": ""},
            'quo"te': "string",
            "ünï": "string",
            "n": {"type": "int", "default": 1},
            "sold_at": "timestamp",
            "x": "int",
        },
        "models": {"default": "tft_build.generic.models:build_default_model"},
    }
    assert list(read_config("proj")["columns"]) == ["id", "sale price", "a.b", 'quo"te', "ünï", "n", "sold_at", "x"]
    assert 'a.b" = { type = "string", default = "" }' in text
    assert text.startswith("# tft_build settings, written by `tft-tasks init-config` from ../data/train-1.csv "
                           "(2 sample rows); edit freely.\n")
    assert all(line.startswith(("#", "[")) or " # " in line for line in text.split("\n\n")[0].splitlines())
    assert "wrote: proj/tft_build.toml, proj/my_pipeline.py, proj/dodo.py" in out
    assert "cd proj" in out and "doit list --all" in out


def test_eval_defaults_to_the_training_data_with_a_note(capsys):
    write("houses.csv", HOUSES)
    assert run(capsys, "houses.csv", "--label", "price")[0] == 0
    config = read_config()
    assert config["eval_data"] == config["train_data"] == ["houses.csv"]
    assert "point eval_data at held-out rows" in Path("tft_build.toml").read_text()


def test_toml_strings_escape_what_toml_needs():
    odd = 'tab\tnew\nline "q" back\\slash del\x7f nul\x00 emoji\U0001f600'
    skeleton = Skeleton(
        source=odd, row_count=1, train_data=(odd,), eval_data=None, header=True, header_forced=False,
        columns=(column(odd, "string", ""), column("y", "float")), label="y", objective="regression", key_column="",
    )
    config = tomllib.loads(config_toml(skeleton))
    assert config["train_data"] == [odd] and config["columns"][odd] == {"type": "string", "default": ""}
    namespace = {}
    source = pipeline_module(skeleton)
    assert ast.literal_eval(ast.parse(source).body[0].value).startswith(
        "preprocessing_fn and row filter for " + odd)
    exec(compile(source.replace("from tft_build import generic", "generic = None"), "my_pipeline.py", "exec"),
         namespace)
    assert namespace["keep_row"]({}) is True


def test_pipeline_module_is_specialized_to_the_columns(capsys):
    write("houses.csv", HOUSES)
    assert run(capsys, "houses.csv", "--label", "price")[0] == 0
    source = Path("my_pipeline.py").read_text()
    tree = ast.parse(source)
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["preprocessing_fn", "keep_row"]
    lines = [line.strip() for line in source.splitlines()]
    for expected in [
        "from tft_build import generic",
        '"price": inputs["price"],  # the label, unchanged',
        '# "id" is the key column: it identifies rows, it is not a feature',
        '"neighborhood": generic.category(inputs["neighborhood"]),',
        '"year_built": generic.category(inputs["year_built"]),',   # an int with few values
        '"rooms": generic.category(inputs["rooms"]),',
        '"area_m2": generic.numeric(inputs["area_m2"]),',
        '**generic.time_parts("sold_at", inputs["sold_at"], cfg),',
        "return True",
    ]:
        assert expected in lines
    assert 'inputs["id"]' not in source
    assert Path("dodo.py").read_text() == DODO
    compile(Path("dodo.py").read_text(), "dodo.py", "exec")


def test_many_valued_ints_are_numeric():
    many = column("n", "int", distinct=11)
    skeleton = Skeleton("d.csv", 11, ("d.csv",), None, True, False, (many, column("y", "float")), "y",
                        "regression", "")
    assert '"n": generic.numeric(inputs["n"]),' in pipeline_module(skeleton)


def test_refuses_to_overwrite_and_never_replaces_user_code(capsys):
    write("houses.csv", HOUSES)
    assert run(capsys, "houses.csv", "--label", "price")[0] == 0
    write("my_pipeline.py", "# mine\n")
    write("dodo.py", "# my dodo\n")
    before = Path("tft_build.toml").read_text()

    status, out, err = run(capsys, "houses.csv", "--label", "rooms")
    assert (status, out) == (2, "")
    assert err == "tft-tasks init-config: error: tft_build.toml exists; use --force to overwrite it\n"
    assert Path("tft_build.toml").read_text() == before

    status, out, err = run(capsys, "houses.csv", "--label", "rooms", "--force")
    assert (status, err) == (0, "")
    assert read_config()["label"] == "rooms"
    assert Path("my_pipeline.py").read_text() == "# mine\n"
    assert Path("dodo.py").read_text() == "# my dodo\n"
    assert "wrote: tft_build.toml\n" in out and "kept: my_pipeline.py (it exists" in out
    assert not list(Path(".").glob(".*tmp*"))  # no temp files left


def test_summary_table(capsys):
    write("houses.csv", HOUSES)
    status, out, _ = run(capsys, "houses.csv", "--label", "price")
    assert status == 0
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith(("id ", "year_built"))}
    assert table == {"id": ["string", "required", "key"], "year_built": ["int", "1968", "feature", "(category)"]}
    assert "houses.csv: 4 sample rows, 7 columns" in out


def test_sample_rows_limits_the_sample(capsys):
    write("d.csv", "id,y\n" + "".join(f"r{i},{i}\n" for i in range(20)) + "r20,not a number\n")
    status, out, _ = run(capsys, "d.csv", "--label", "y", "--sample-rows", "20")
    assert status == 0 and read_config()["columns"]["y"] == "int"
    assert "20 sample rows" in out


# --- labels with missing values, pipelines without features ------------------


@pytest.mark.parametrize("values, type_, objective, marker", [
    ("1.5,NA,2.5,,3.5", "float", "regression", "nan"),
    ("a,,b,NA,a", "string", "classification", '""'),
    ("1,,2,NA,1", "string", "classification", '""'),  # int codes with gaps: classes as text, "" for none
])
def test_a_label_with_missing_values_gets_a_row_filter_that_drops_them(capsys, values, type_, objective, marker):
    labels = values.split(",")
    write("d.csv", "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(labels)))
    status, out, _ = run(capsys, "d.csv", "--label", "y")
    assert status == 0
    assert "label: missing in 2 of the 5 sample rows; my_pipeline.py's keep_row drops the rows" in out
    config_text = Path("tft_build.toml").read_text()
    assert f'y = {{ type = "{type_}", default = {marker} }}' in config_text
    assert read_config()["objective"] == objective
    source = Path("my_pipeline.py").read_text()
    assert "2 of the 5 sample rows had none" in source and 'return generic.has_value(row["y"])' in source
    from tft_build.generic import rowfilter  # the test the generated filter calls, on a batch as Beam gives it
    namespace = {"generic": rowfilter}
    exec(compile(source.replace("from tft_build import generic", ""), "my_pipeline.py", "exec"), namespace)
    read = [float("nan") if v in ("", "NA") else float(v) for v in labels] if type_ == "float" else [
        "" if v in ("", "NA") else v for v in labels]
    batch = {"y": np.array(read, dtype=float if type_ == "float" else object)}
    assert namespace["keep_row"](batch).tolist() == [True, False, True, False, True]


def test_a_pipeline_without_features_is_warned_about(capsys):
    write("d.csv", "id,y\n" + "".join(f"r{i},{i * 0.5}\n" for i in range(30)))
    status, out, _ = run(capsys, "d.csv", "--label", "y")
    assert status == 0
    assert "warning: no column is a feature (only the label and the key)" in out


# --- errors ------------------------------------------------------------------


@pytest.mark.parametrize("files, argv, message", [
    ({}, ["nope.csv", "--label", "y"], "nope.csv: no such file"),
    ({}, ["data/*.csv", "--label", "y"], "no file matches 'data/*.csv'"),
    ({"d.csv": "x,y\n1,2\n"}, ["d.csv", "--eval", "e.csv", "--label", "y"], "e.csv: no such file"),
    ({"d.csv": ""}, ["d.csv", "--label", "y"], "d.csv: the file is empty"),
    ({"d.csv": "\n\n"}, ["d.csv", "--label", "y"], "d.csv: the file is empty"),
    ({"d.csv": "x,y\n"}, ["d.csv", "--label", "y"], "d.csv: the file has a header but no data rows"),
    ({"d.csv": "x,y\n1,2\n"}, ["d.csv", "--label", "z"], "label 'z' is not a column (x, y)"),
    ({"d.csv": "1,2\n3,4\n"}, ["d.csv", "--label", "3"],
     "label '3' is not a column (col_1, col_2, or a column number 1..2)"),
    ({"d.csv": "t,y\n2020-01-02 03:04:05,1\n"}, ["d.csv", "--label", "t"],
     "label column t holds timestamps; choose a number or text column"),
    ({"d.csv": 'x,y\n1,2\n"3\n",4\n5,6,7\n'}, ["d.csv", "--label", "y"],
     "d.csv:5: 3 fields, but the first row has 2; check the commas and quotes on this line"),
    ({"d.csv": "x,y\n1,NA\n2,\n"}, ["d.csv", "--label", "x"],
     "d.csv: column 'y' has no value in any of the 2 sample rows"),
    ({"d.csv": "x,x\n1,2\n"}, ["d.csv", "--label", "x"],
     "d.csv: the header names column 'x' twice; column names must be unique"),
    ({"d.csv": "x,y\n1,2\n"}, ["d.csv", "--label", "x", "--sample-rows", "0"],
     "--sample-rows must be at least 1, got 0"),
])
def test_errors_are_one_line(capsys, files, argv, message):
    for name, text in files.items():
        write(name, text)
    status, out, err = run(capsys, *argv)
    assert (status, out) == (2, "")
    assert err == f"tft-tasks init-config: error: {message}\n"
    assert not Path("tft_build.toml").exists()


def test_not_utf8_is_one_line(capsys):
    Path("d.csv").write_bytes(b"x,y\n1,\xff\n")
    status, _, err = run(capsys, "d.csv", "--label", "x")
    assert status == 2 and err.count("\n") == 1 and "not UTF-8" in err


def test_unwritable_dir_is_one_line(capsys):
    write("houses.csv", HOUSES)
    write("afile", "")
    status, _, err = run(capsys, "houses.csv", "--label", "price", "--dir", "afile")
    assert status == 2 and err.startswith("tft-tasks init-config: error: afile") and err.count("\n") == 1


# --- the command as a whole --------------------------------------------------


def test_imports_no_tensorflow():
    heavy = ("tensorflow", "tensorflow_transform", "apache_beam")
    code = f"import sys, tft_build.commands.init_config; print([m for m in sys.modules if m.split('.')[0] in {heavy}])"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_load_config_reads_the_generated_config(capsys, tmp_path):
    from tft_build.config.settings import load_config

    write("data/houses.csv", HOUSES)
    assert run(capsys, "data/houses.csv", "--label", "price", "--dir", "proj")[0] == 0
    cfg = load_config(tmp_path / "proj", environ={})
    assert Path(cfg.train_data[0]).resolve() == (tmp_path / "data" / "houses.csv").resolve()
    assert (cfg.label, cfg.objective, cfg.header, cfg.key_column) == ("price", "regression", "auto", "id")
    assert [(c.name, c.type, c.default) for c in cfg.columns][1:3] == [
        ("neighborhood", "string", ""), ("year_built", "int", 1968)]
