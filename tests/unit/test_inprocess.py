"""The transform without Beam: when it runs (the setting, a local runner in one process, small local
files), and its encoding threads."""

import dataclasses
import random
import threading
import time

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


def test_encoding_threads_give_the_results_in_order():
    durations = [random.Random(seed).uniform(0, 0.01) for seed in range(40)]
    seen = set()

    def slow_square(i):
        seen.add(threading.current_thread().name)
        time.sleep(durations[i])
        return i * i

    assert list(inprocess.in_order(slow_square, range(40))) == [i * i for i in range(40)]
    assert all(name.startswith("encode") for name in seen)


def test_an_encoding_error_reaches_the_writer_and_stops_the_threads():
    started = []

    def fails_at_3(i):
        started.append(i)
        if i == 3:
            raise ValueError("bad batch")
        return i

    results = inprocess.in_order(fails_at_3, range(100))
    with pytest.raises(ValueError, match="bad batch"):
        list(results)
    assert len(started) < 100  # the items after the lookahead were never submitted
    assert not any(thread.name.startswith("encode") for thread in threading.enumerate())
