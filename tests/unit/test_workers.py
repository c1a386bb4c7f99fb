"""The worker processes' runner: how many, when forking is safe, warming, watching, stopping."""

import multiprocessing
import queue
import signal
import sys
import time

import pytest
from doit.runner import JobHold

from tft_build.engine import parallel


def test_forking_is_unsafe_once_tensorflow_is_loaded(monkeypatch):
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    assert parallel.forking_is_safe()
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    assert not parallel.forking_is_safe()


@pytest.mark.parametrize(("cores", "models", "jobs"), [
    (1, 2, 0),  # one core: the tasks one after the other in the doit process
    (2, 1, 2),  # a training and the reference model
    (2, 5, 2),  # more tasks than cores wait for a worker
    (8, 2, 3),  # no more workers than tasks that can run at once (two trainings, the reference model)
])
def test_a_run_gets_a_worker_per_core_up_to_the_tasks_that_can_run_at_once(monkeypatch, cores, models, jobs):
    monkeypatch.setattr(parallel.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert parallel.default_jobs(models) == jobs


def test_the_watched_queue_looks_between_waits_and_at_what_comes(monkeypatch):
    monkeypatch.setattr(parallel, "WATCH_SECONDS", 0.01)
    seen = []
    inner = queue.Queue()
    watched = parallel.WatchedQueue(inner, seen.append)
    inner.put({"name": "a"})
    assert watched.get() == {"name": "a"}
    assert seen == [{"name": "a"}]

    def watch(item):
        seen.append(item)
        if len(seen) == 4:
            inner.put("late")

    watched.watch = watch
    assert watched.get() == "late"
    assert seen[1:] == [None, None, None]


class Worker:
    def __init__(self, pid, exitcode):
        self.pid, self.exitcode = pid, exitcode


def watching_runner(workers):
    runner = parallel.WarmRunner.__new__(parallel.WarmRunner)
    runner._parent = parallel.os.getpid()
    runner._running = set()
    runner._workers = workers
    return runner


def test_a_dead_worker_fails_the_run_naming_the_tasks_that_ran():
    runner = watching_runner([Worker(11, None), Worker(12, 0)])
    runner._watch({"name": "train_a", "reporter": "execute_task"})
    runner._watch({"name": "train_b", "reporter": "execute_task"})
    runner._watch({"name": "train_a", "task": {}})  # train_a's result
    runner._watch(None)  # both alive (or ended well): nothing to say
    runner._workers.append(Worker(13, -signal.SIGKILL))
    with pytest.raises(parallel.WorkerDied) as died:
        runner._watch(None)
    assert "pid 13 killed by signal 9" in str(died.value) and "while it ran train_b;" in str(died.value)


def test_a_worker_process_does_not_watch():
    runner = watching_runner([Worker(13, 1)])
    runner._parent = -1  # not this process
    runner._watch(None)


def test_a_waiting_worker_imports_the_step_libraries_once(monkeypatch):
    imported = []
    monkeypatch.setattr(parallel, "import_step_libraries", lambda: imported.append(1))
    inner = queue.Queue()
    for job in (JobHold(), JobHold(), None):
        inner.put(job)
    warming = parallel.WarmingQueue(inner)
    assert [type(warming.get()) for _ in range(3)] == [JobHold, JobHold, type(None)]
    assert imported == [1]


def _cleans_up_on_ctrl_c(done):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # pytest may run with Ctrl-C ignored
    try:
        time.sleep(60)
    except KeyboardInterrupt:
        done.set()


def _ignores_ctrl_c():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    time.sleep(60)


def test_a_stopped_worker_gets_ctrl_c_and_is_killed_only_if_it_stays(monkeypatch):
    context = multiprocessing.get_context("fork")
    done = context.Event()
    polite = context.Process(target=_cleans_up_on_ctrl_c, args=(done,))
    polite.start()
    time.sleep(0.2)
    parallel.stop(polite)
    assert done.is_set() and polite.exitcode == 0

    monkeypatch.setattr(parallel, "STOP_SECONDS", 0.5)
    stubborn = context.Process(target=_ignores_ctrl_c)
    stubborn.start()
    time.sleep(0.2)
    parallel.stop(stubborn)
    stubborn.join(5)
    assert stubborn.exitcode == -signal.SIGTERM
