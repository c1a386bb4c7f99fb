"""Tasks side by side in worker processes: a killed worker and Ctrl-C leave nothing half-written.

(The parallel build's outputs equal a sequential one's: test_reliability's two cold
builds, one with ``-n 0`` and one with ``-n 2``. One build at a time: test_warm's lock
test, with ``-n 0``; the lock is the doit process's, whatever ``-n``.)
"""

import os
import signal
import time
from pathlib import Path

import pytest
from support import NO_CACHE, leftovers, make_project, ran, tree_hashes

TRAININGS = ("train_non_embedding_model", "train_embedding_model")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A small project whose models were trained once, and a config that trains them for long."""
    project = make_project(tmp_path_factory.mktemp("parallel"), train_rows=300, eval_rows=80)
    project.env = NO_CACHE  # these tests kill and interrupt real runs, not restores
    project.doit("-n", "2", *TRAININGS)
    project.models = tree_hashes(project.artifacts / "models")
    project.long = project.root / "long.toml"
    project.long.write_text("epochs = 500\npatience = 500\n")
    return project


def workers(pid):
    """The pids of a process's children."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def both_training(project):
    """Whether both trainings are past their first epoch: each one's TensorBoard staging holds
    the first validation log."""
    logs = project.artifacts / "tensorboard"
    return all(any(logs.glob(f".{model}.tmp-*/validation")) for model in ("non_embedding", "embedding"))


def start_long_trainings(project):
    project.doit("forget", *TRAININGS)
    process = project.start("-n", "2", *TRAININGS, env={"TFT_BUILD_CONFIG": str(project.long)})
    deadline = time.time() + 240
    while time.time() < deadline and not both_training(project):
        time.sleep(0.1)
    assert len(workers(process.pid)) == 2, "two worker processes train side by side"
    return process


def test_a_killed_worker_fails_the_run_in_one_line_and_the_next_run_builds(project):
    process = start_long_trainings(project)
    try:
        victim = workers(process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode not in (0, None), out + err
    lines = [line for line in err.splitlines() if "worker process died" in line]
    assert len(lines) == 1 and f"pid {victim} killed by signal 9" in lines[0], err
    assert "Traceback" not in err
    assert tree_hashes(project.artifacts / "models") == project.models, "the models trained before stay"
    again = project.doit("-n", "2", *TRAININGS)
    assert ran(again.stdout) == set(TRAININGS)
    assert tree_hashes(project.artifacts / "models") == project.models
    assert leftovers(project.artifacts) == []


def test_ctrl_c_stops_both_workers_and_leaves_nothing_half_written(project):
    process = start_long_trainings(project)
    pids = workers(process.pid)
    try:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids), "no worker outlives the run"
    assert tree_hashes(project.artifacts / "models") == project.models
    assert leftovers(project.artifacts) == []
