"""When the transform runs without Beam: the setting, a local runner in one process, small local files."""

import dataclasses

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from tft_build.config.settings import Config
from tft_build.steps import inprocess


@pytest.fixture
def setup(tmp_path):
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    cfg = Config(project_dir=tmp_path)
    return cfg, {"train": [str(data)], "eval": [str(data)]}


def options(*args):
    return PipelineOptions(list(args or Config.beam_pipeline_args))


def test_the_default_local_runner_runs_here(setup):
    cfg, files = setup
    assert inprocess.applies(cfg, options(), files)
    assert inprocess.applies(cfg, options("--runner=FnApiRunner", "--direct_running_mode=in_memory"), files)


@pytest.mark.parametrize("args", [
    ("--runner=FnApiRunner", "--direct_num_workers=2"),
    ("--runner=FnApiRunner", "--direct_running_mode=multi_processing"),
    ("--runner=PortableRunner", "--job_endpoint=localhost:8099"),
])
def test_other_runners_and_more_workers_go_through_beam(setup, args):
    cfg, files = setup
    assert not inprocess.applies(cfg, options(*args), files)


def test_the_setting_a_shared_dir_remote_or_big_data_go_through_beam(setup, monkeypatch):
    cfg, files = setup
    assert not inprocess.applies(dataclasses.replace(cfg, transform_engine="beam"), options(), files)
    assert not inprocess.applies(dataclasses.replace(cfg, shared_dir="/tmp/shared"), options(), files)
    assert not inprocess.applies(cfg, options(), {**files, "eval": ["gs://bucket/eval.csv"]})
    monkeypatch.setattr(inprocess, "MAX_BYTES", 15)  # the two files are 16 bytes
    assert not inprocess.applies(cfg, options(), files)
