"""Warm workers: the same outputs as without them; a killed worker, Ctrl-C and a killed doit
leave nothing half-written and nothing running; the lock still allows one build at a time; a worker
that grew too much exits after its step, and the next step starts another."""

import os
import re
import signal
from pathlib import Path

import pytest
from support import NO_CACHE, leftovers, make_project, ran, tree_hashes, wait_for

WARM = {**NO_CACHE, "TFT_BUILD_WARM": "1"}
COLD = {**NO_CACHE, "TFT_BUILD_WARM": "0"}
EDIT = ("(hour >= 16) & (hour < 20)", "(hour >= 15) & (hour < 20)")  # in the helper preprocessing_fn calls
COMPARED = ("models", "predictions", "metrics", "reference")


def outputs(project):
    """The build's outputs that must not depend on where the steps ran."""
    artifacts = project.artifacts
    found = {name: tree_hashes(artifacts / name) for name in COMPARED}
    for name in ("data.digest.json", "transform_fn.digest.json"):
        found[name] = (artifacts / "transformed" / name).read_text()
    return found


def workers_of(project):
    """``{pid: log lines}`` of the project's warm workers that are running."""
    running = {}
    for log in (project.artifacts / ".tft_build-warm").glob("worker-*.log"):
        text = log.read_text()
        for pid in map(int, re.findall(r"pid (\d+): listening", text)):
            if Path(f"/proc/{pid}").exists() and b"tft_build.engine.warm" in Path(f"/proc/{pid}/cmdline").read_bytes():
                running[pid] = [line for line in text.splitlines() if f"pid {pid}:" in line]
    return running


def stop_workers(project):
    for pid in workers_of(project):
        os.kill(pid, signal.SIGKILL)



@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small project built with warm workers, then built again after an edit of a helper of its
    preprocessing_fn: the second build's steps ran in the warm workers the first one started."""
    project = make_project(tmp_path_factory.mktemp("warm"), train_rows=300, eval_rows=80)
    config = project.root / "pyproject.toml"
    config.write_text(config.read_text().replace("[tool.tft_build]\n", "[tool.tft_build]\nwarm_minutes = 2\n", 1))
    project.env = WARM
    project.doit("-n", "2")
    helpers = project.root / "my_helpers.py"
    helpers.write_text(helpers.read_text().replace(*EDIT))
    project.edited = project.doit("-n", "2")
    project.built = outputs(project)
    project.long = project.root / "long.toml"
    project.long.write_text("epochs = 500\npatience = 500\n")
    yield project
    stop_workers(project)


def test_the_edit_ran_in_the_warm_workers_and_gives_what_a_build_without_them_gives(project, tmp_path):
    steps = [line for lines in workers_of(project).values() for line in lines if ": done" in line]
    assert ran(project.edited.stdout) == {
        "transform_raw_data", "train_reference_model", "train_non_embedding_model", "train_embedding_model",
        "train_and_predict_non_embedding_model", "train_and_predict_embedding_model"}
    assert len(workers_of(project)) == 2, "one warm worker per worker process"
    assert sum("transform_raw_data" in line for line in steps) == 2, "both builds' transforms ran warm"
    assert "epoch 1/" in project.edited.stdout and "rmse" in project.edited.stdout, "the step's output reached doit's"

    other = make_project(tmp_path / "cold", train_rows=300, eval_rows=80)
    helpers = other.root / "my_helpers.py"
    helpers.write_text(helpers.read_text().replace(*EDIT))
    other.env = COLD
    other.doit("-n", "0")
    assert not (other.artifacts / ".tft_build-warm").exists()
    assert outputs(other) == project.built


def start_long_training(project, *args):
    project.doit("forget", "train_non_embedding_model")
    process = project.start(*args, "train_non_embedding_model", env={"TFT_BUILD_CONFIG": str(project.long)})
    staging = project.artifacts / "tensorboard"
    assert wait_for(lambda: any(staging.glob(".non_embedding.tmp-*/validation")), 240), "the training never started"
    return process


def finish(process, timeout=300):
    try:
        return process.communicate(timeout=timeout)
    finally:
        process.kill()


def log_lines(project):
    """Every line of the project's warm workers' logs."""
    logs = (project.artifacts / ".tft_build-warm").glob("worker-*.log")
    return [line for log in logs for line in log.read_text().splitlines()]


def interrupted_steps(project):
    """How many trainings of the non-embedding model the warm workers' logs say were interrupted."""
    return sum("train_non_embedding_model" in line and "interrupted; exiting" in line for line in log_lines(project))


def test_ctrl_c_stops_the_step_in_the_warm_worker_and_one_build_runs_at_a_time(project):
    models = tree_hashes(project.artifacts / "models")
    process = start_long_training(project, "-n", "0")
    second = project.doit("--no-wait", "train_embedding_model", check=False)
    assert second.returncode != 0 and "not waiting (--no-wait)" in second.stderr
    process.send_signal(signal.SIGINT)
    out, err = finish(process)
    assert process.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert interrupted_steps(project) == 1
    assert tree_hashes(project.artifacts / "models") == models
    assert leftovers(project.artifacts) == []


def test_a_killed_warm_worker_is_replaced_by_the_task_process(project):
    """A training of the usual length: it runs again in the task's process, to the end."""
    models = tree_hashes(project.artifacts / "models")
    project.doit("forget", "train_non_embedding_model")
    process = project.start("-n", "0", "train_non_embedding_model")
    staging = project.artifacts / "tensorboard"
    assert wait_for(lambda: any(staging.glob(".non_embedding.tmp-*/validation")), 240)
    for pid in workers_of(project):
        os.kill(pid, signal.SIGKILL)
    out, err = finish(process)
    assert process.returncode == 0, out + err
    gone = [line for line in err.splitlines() if "warm worker" in line]
    assert len(gone) == 1 and "running the step here" in gone[0], err
    assert "Traceback" not in err
    assert tree_hashes(project.artifacts / "models") == models
    assert leftovers(project.artifacts) == []


def test_a_killed_doit_stops_its_step_in_the_warm_worker(project):
    """Nothing is left running that the next build could meet: the worker, which holds a copy of the
    lock meanwhile, stops the step as Ctrl-C would, removes its staging and exits."""
    models = tree_hashes(project.artifacts / "models")
    stopped = interrupted_steps(project)
    process = start_long_training(project, "-n", "0")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert wait_for(lambda: interrupted_steps(project) == stopped + 1, 60), log_lines(project)
    assert leftovers(project.artifacts) == []
    assert ran(project.doit("-n", "0", "train_non_embedding_model").stdout) == {"train_non_embedding_model"}
    assert tree_hashes(project.artifacts / "models") == models


def test_a_worker_that_grew_too_much_exits_after_its_step_and_the_next_step_starts_another(project):
    stop_workers(project)
    reference = tree_hashes(project.artifacts / "reference")
    for _ in range(2):
        project.doit("forget", "train_reference_model")
        done = project.doit("-n", "0", "train_reference_model", env={"TFT_BUILD_WARM_MAX_GROWTH_MB": "0"})
        assert ran(done.stdout) == {"train_reference_model"}
        assert wait_for(lambda: not workers_of(project), 60), "the worker that grew is still running"
    lines = log_lines(project)
    grew = {int(pid) for pid in re.findall(r"pid (\d+): grew by \d+ MiB", "\n".join(lines))}
    assert len(grew) == 2, lines  # a fresh worker each time, each exiting after its step, which it did
    assert all(any(f"pid {pid}: train_reference_model for pid" in line and line.endswith(": done") for line in lines)
               for pid in grew), lines
    assert tree_hashes(project.artifacts / "reference") == reference
    assert leftovers(project.artifacts) == []
