"""Of the tasks that are ready, the one leading the longest chain of recorded seconds starts first."""

from collections import deque

from doit.control import TaskControl
from doit.task import Task

from tft_build.engine import schedule

# The pipeline's shape: a transform, two trainings and the reference model after it, each model's serving
# after its training and the reference model.
DEPS = {
    "transform": [],
    "train_a": ["transform"], "train_b": ["transform"], "reference": ["transform"],
    "serve_a": ["train_a", "reference"], "serve_b": ["train_b", "reference"],
}
SECONDS = {"transform": 3.0, "train_a": 6.0, "train_b": 5.0, "reference": 1.0, "serve_a": 3.0, "serve_b": 2.0}


def test_a_task_counts_its_seconds_and_the_longest_chain_that_waits_for_it():
    assert schedule.priorities(DEPS, SECONDS) == {
        "serve_a": 3.0, "serve_b": 2.0, "train_a": 9.0, "train_b": 7.0,
        "reference": 4.0,  # 1 s, then serve_a's 3
        "transform": 12.0,
    }


def test_a_task_never_timed_counts_nothing_of_its_own():
    assert schedule.priorities(DEPS, {"serve_b": 2.0}) == {
        "serve_a": 0.0, "serve_b": 2.0, "train_a": 0.0, "train_b": 2.0, "reference": 2.0, "transform": 2.0,
    }


def started(seconds, workers=2):
    """The order in which doit's dispatcher, prioritized, starts the pipeline's tasks on ``workers``
    workers, each task taking one turn (a runner's protocol, as doit's multi-process runner speaks it)."""
    control = TaskControl([Task(name, [], task_dep=list(deps)) for name, deps in DEPS.items()])
    control.process(["serve_a", "serve_b"])
    dispatcher = control.task_dispatcher()
    schedule.prioritized(dispatcher, seconds)
    order, running, completed = [], deque(), None
    while True:
        try:
            node = dispatcher.generator.send(completed)
        except StopIteration:
            return order
        completed = None
        if node != "hold on":
            node.run_status = "run"  # selected: it runs
            order.append(node.task.name)
            running.append(node)
        if node == "hold on" or len(running) == workers:  # every worker busy, or nothing else ready
            completed = running.popleft()
            completed.run_status = "successful"


def test_the_trainings_start_before_the_reference_model_and_the_longer_first():
    order = started(SECONDS)
    assert order[:3] == ["transform", "train_a", "train_b"]
    assert order.index("reference") < min(order.index("serve_a"), order.index("serve_b"))
    assert sorted(order) == sorted(DEPS)


def test_a_shorter_history_reorders_them():
    order = started({**SECONDS, "train_b": 8.0})
    assert order[:3] == ["transform", "train_b", "train_a"]
