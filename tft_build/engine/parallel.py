"""Independent tasks side by side, in worker processes forked before TensorFlow loads.

doit's ``-n N`` (with ``-P process``, its default) runs the tasks in N worker
processes that it forks when the run starts, and keeps the build record in the
``doit`` process. Forking a process that has loaded TensorFlow is unsafe (its
thread pools do not survive a fork), but tft_build's orchestration never
imports it, so the workers are forked from a process without it and each
loads its own. What tft_build adds to doit's runner (:class:`WarmRunner`):

- of the tasks that are ready, a free worker gets the one that leads the
  longest chain of recorded durations (:mod:`tft_build.engine.schedule`), not
  the first of doit's set;
- a worker with no task yet (the others wait for the transform) uses the time
  to import TensorFlow, TFT and Beam, so the trainings it gets later do not
  wait for that import, and then settles its heap (:mod:`tft_build.engine.heap`);
- the ``doit`` process watches its workers: one that dies (killed, out of
  memory) fails the run in one line naming the tasks that were running,
  where doit's own runner would wait for it forever;
- workers write their output a line at a time and the ``doit`` process
  flushes each of its lines, so that side by side no ``.  task`` line lands
  inside a line a task printed;
- a run that stops (Ctrl-C, a dead worker) stops its workers as Ctrl-C does,
  so that each removes its staging, and kills only one that has not stopped
  after :data:`STOP_SECONDS` (doit's runner kills them at once).

A worker's outputs are written as in a run in one process (staging, rename,
manifest last), and its record goes back to the ``doit`` process, which saves
it; a worker killed half-way leaves its task due and its staging to be
removed by the next run. :func:`default_jobs` is the number of workers a
run gets when ``-n`` is not given.
"""

import contextlib
import functools
import os
import queue
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from doit import cmd_run
from doit.runner import JobHold, MRunner

from tft_build.engine import heap, schedule
from tft_build.errors import TftBuildError

# What the steps import first; a waiting worker imports them ahead (the steps' own imports then find them).
STEP_LIBRARIES = ("tensorflow", "tensorflow_transform", "apache_beam", "tf_keras")
WATCH_SECONDS = 0.5  # how often the doit process looks for a dead worker while it waits for a result
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
STOP_SECONDS = 20.0  # how long a stopped run waits for a worker to clean up before it kills it


class WorkerDied(TftBuildError):
    """A worker process ended without reporting the task it ran."""


def default_jobs(models: int) -> int:
    """Workers for a run without ``-n``: one per core, at most as many as the tasks that can run at once
    (each model's training and the reference model's); 0, one process, on one core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    jobs = min(cores, models + 1)
    return jobs if jobs > 1 else 0


def forking_is_safe() -> bool:
    """Whether this process may fork workers: not once TensorFlow is loaded here (doit called
    from a process that imported it, a notebook or a test session, runs the tasks in-process)."""
    return "tensorflow" not in sys.modules


@contextlib.contextmanager
def workers(prefetch: bool, seconds: Mapping[str, float]) -> Iterator[None]:
    """Within the block, doit's ``run`` uses :class:`WarmRunner` for ``-P process``; with ``prefetch``,
    its waiting workers import the step libraries (not when the steps run in warm workers,
    :mod:`tft_build.engine.warm`); of the tasks that are ready, it starts first the one that leads the
    longest chain of recorded ``seconds`` (``{task: seconds}``, :mod:`tft_build.engine.schedule`).

    doit's ``Run._execute`` picks its runner class from its module's globals; it is swapped
    for the block only.
    """
    previous, WarmRunner.prefetch, WarmRunner.seconds = cmd_run.MRunner, prefetch, seconds
    cmd_run.MRunner = WarmRunner
    try:
        yield
    finally:
        cmd_run.MRunner = previous


class WarmRunner(MRunner):
    """doit's multi-process runner, whose waiting workers import the step libraries (with ``prefetch``)
    and whose workers are watched by the ``doit`` process (see the module's docstring)."""

    prefetch = True
    seconds: Mapping[str, float] = {}

    def _run_start_processes(self, job_q, result_q):
        self._workers = super()._run_start_processes(job_q, result_q)
        for worker in self._workers:  # doit calls terminate() on each when the run stops
            worker.terminate = functools.partial(stop, worker)
        return self._workers

    def run_tasks(self, task_dispatcher):
        self._running = set()
        self._parent = os.getpid()
        schedule.prioritized(task_dispatcher, self.seconds)
        super().run_tasks(task_dispatcher)

    def Queue(self):  # doit's name for the factory of its queues
        return WatchedQueue(MRunner.Queue(), self._watch)

    def _watch(self, result: dict[str, Any] | None) -> None:
        """In the doit process: note each task a worker starts and ends; fail when a worker died."""
        if os.getpid() != self._parent:
            return
        if result is not None:
            if result.get("reporter") == "execute_task":
                self._running.add(result["name"])
            elif "reporter" not in result and "name" in result:
                self._running.discard(result["name"])
            return
        dead = [w for w in getattr(self, "_workers", []) if w.exitcode not in (None, 0)]
        if dead:
            tasks = ", ".join(sorted(self._running)) or "no task"
            how = ", ".join(f"pid {w.pid} {_ended(w.exitcode)}" for w in dead)
            raise WorkerDied(f"a worker process died ({how}) while it ran {tasks}; what it was writing is left "
                             "in staging and removed by the next run: run doit again (doit -n 0 runs in one process)")

    def execute_task_subprocess(self, job_q, result_q, reporter_class):
        die_with_parent(self._parent)
        # Whole lines: a line written in pieces would let the doit process's ".  task" land inside it.
        sys.stdout.reconfigure(line_buffering=True)
        super().execute_task_subprocess(WarmingQueue(job_q) if self.prefetch else job_q, result_q, reporter_class)


class WatchedQueue:
    """A multiprocessing queue whose ``get`` waits in short steps, calling ``watch(None)`` between
    them and ``watch(item)`` on what it got."""

    def __init__(self, inner: Any, watch: Callable[[dict[str, Any] | None], None]) -> None:
        self.inner = inner
        self.watch = watch

    def put(self, item: Any) -> None:
        self.inner.put(item)

    def empty(self) -> bool:
        return self.inner.empty()

    def get(self) -> Any:
        while True:
            try:
                item = self.inner.get(timeout=WATCH_SECONDS)
            except queue.Empty:
                self.watch(None)
                continue
            if isinstance(item, dict):
                self.watch(item)
            return item


class WarmingQueue:
    """A worker's job queue: on the first job that says there is nothing to run yet, the
    worker imports :data:`STEP_LIBRARIES` before it waits for the next."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.warm = False

    def get(self) -> Any:
        job = self.inner.get()
        if job is not None and job.type is JobHold.type and not self.warm:
            self.warm = True
            import_step_libraries()
        return job


def die_with_parent(parent: int) -> None:
    """In a worker: be killed when the ``doit`` process dies (SIGKILL), instead of waiting for jobs
    forever with the project's lock, which it inherited, held."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the above
        os._exit(1)


def stop(worker: Any) -> None:
    """Stop a worker process as Ctrl-C would, so that it removes its staging; kill it if it is
    still there after STOP_SECONDS."""
    if worker.is_alive():
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGINT)
        worker.join(STOP_SECONDS)
    if worker.is_alive():
        type(worker).terminate(worker)


def import_step_libraries() -> None:
    """Import what the steps import first, their start-up chatter hidden as in a step."""
    import importlib

    from tft_build.engine.stepcall import quiet_native_stderr

    with quiet_native_stderr():
        for name in STEP_LIBRARIES:
            importlib.import_module(name)
    heap.settle()


def _ended(exitcode: int) -> str:
    return f"killed by signal {-exitcode}" if exitcode < 0 else f"exited with status {exitcode}"
