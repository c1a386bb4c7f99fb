"""Which of the tasks that are ready a free worker gets first: the one that leads the longest chain.

doit hands its workers the tasks whose dependencies are done in the order
of a set. With two workers and three tasks ready after the transform (two
trainings and the reference model's fit), the reference model often went
first and held a training, the longest chain to the metrics, back by its
second or so. Build systems that keep a history order by it (ninja since
1.12 runs the task on the longest path of recorded durations first); so does
tft_build: a task's priority is the seconds its step took in its last run
(:func:`tft_build.report.history.last_seconds`: from its trace, which leaves
out a cold worker's loading of the libraries) plus the highest priority
among the tasks that depend on it. A task never timed counts 0, so a first
build keeps doit's order. The order changes when tasks start, never what they compute.
"""

from collections.abc import Mapping
from typing import Any


def priorities(task_deps: Mapping[str, list[str]], seconds: Mapping[str, float]) -> dict[str, float]:
    """``{task: its seconds plus the longest chain of seconds of the tasks that depend on it}``, for the
    tasks of ``task_deps`` (``{task: the tasks it depends on}``)."""
    dependents: dict[str, list[str]] = {name: [] for name in task_deps}
    for name, deps in task_deps.items():
        for dep in deps:
            if dep in dependents:
                dependents[dep].append(name)
    chains: dict[str, float] = {}

    def chain(name: str) -> float:
        if name not in chains:  # doit refuses cyclic dependencies before a run starts
            chains[name] = seconds.get(name, 0.0) + max(map(chain, dependents[name]), default=0.0)
        return chains[name]

    return {name: chain(name) for name in task_deps}


def prioritized(dispatcher: Any, seconds: Mapping[str, float]) -> None:
    """Make doit's ``TaskDispatcher`` keep its ready tasks highest priority first (:func:`priorities`).

    The dispatcher appends the tasks that a finished one made ready to its
    ``ready`` queue, then takes from its front; the queue is sorted after each
    such update, stably, so tasks of equal priority keep doit's order.
    """
    rank = priorities({name: list(task.task_dep) for name, task in dispatcher.tasks.items()}, seconds)
    update = dispatcher._update_waiting

    def update_then_sort(processed: Any) -> None:
        update(processed)
        ready = sorted(dispatcher.ready, key=lambda node: -rank.get(node.task.name, 0.0))
        dispatcher.ready.clear()
        dispatcher.ready.extend(ready)

    dispatcher._update_waiting = update_then_sort
