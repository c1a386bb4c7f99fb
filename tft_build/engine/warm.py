"""Warm workers: steps run in a process that has TensorFlow, TFT and Beam loaded already.

Every ``doit`` that runs a step pays for importing TensorFlow, TFT and Beam
(3.5 s on a quiet machine, over 10 s on a busy one) before the step can
start. A warm worker pays it once. It is a process of the project, started
by the first ``doit`` that needs it, that keeps the libraries loaded and runs
the steps of later runs, and it exits after waiting ``warm_minutes`` for the
next step. The models are Gradle's daemon and Bazel's server.

**Whose.** A warm worker belongs to one user, one project's artifacts dir,
one interpreter and one import path; its socket's name is their digest.
There is one per slot: a run with two worker processes
(:mod:`tft_build.engine.parallel`) takes two slots, each held by an flock
for the step. The socket is in Linux's abstract namespace, and the worker
serves only processes of its own user (``SO_PEERCRED``).

**As the task's own process would.** The worker runs the step in the
task's dir, with the task's environment and import path. Its output goes to
the task's stdout and stderr, whose descriptors come over the socket, and
the call is traced into the same file (:func:`tft_build.engine.stepcall.call_step`).
Everything else stays in the task's process: the snapshot, the build cache,
the check after the step and the record. The worker only says whether the
step failed, and why.

**The code that runs is the code that was fingerprinted.** Before each step
the worker drops the user modules whose source changed
(:func:`tft_build.engine.sourceguard.refresh`). When tft_build's own code
changed, the worker exits and the step runs in the task's process. A module
that the step imported from other source than the snapshot's fails the
task, as it would in the task's process.

**Settled between runs.** A worker idle for ``SETTLE_SECONDS`` collects its garbage and
freezes the rest (:func:`tft_build.engine.heap.settle`): a full collection during a step no
longer walks TensorFlow's half a million objects (0.3-0.4 s of a transform or a serving).

**Not forever bigger.** TensorFlow keeps every function a step traces (each training adds
about 15 MB). A worker that has grown by more than ``TFT_BUILD_WARM_MAX_GROWTH_MB`` (default
1536) since it loaded the libraries exits after answering; the next step starts a fresh one.

**Never a failure of its own.** A worker that cannot be started or reached,
or dies while it runs a step, is reported in one line, and the step runs in
the task's process. Its staging is removed there, as after any kill. Ctrl-C
in the task's process is passed on: the worker stops the step as Ctrl-C
would (staging removed), answers and exits.
"""

import contextlib
import fcntl
import hashlib
import json
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.engine import heap, interrupt, sourceguard, stepcall
from tft_build.engine.lock import project_lock_descriptor

OFF = "TFT_BUILD_WARM"  # "0": no warm workers, whatever warm_minutes says
MAX_GROWTH = "TFT_BUILD_WARM_MAX_GROWTH_MB"  # a worker that grew more since it loaded the libraries exits
DEFAULT_MAX_GROWTH_MB = 1536  # about a hundred trainings of the default data
SETTLE_SECONDS = 3.0  # a worker idle this long is between runs: it settles its heap
PROTOCOL = 1  # a new one never talks to an old worker: it is part of the socket's name
SLOTS = 8  # at most this many warm workers per project
START_SECONDS = 120.0  # how long a task waits for the worker it started to answer
STOP_SECONDS = 20.0  # how long a Ctrl-C'd task waits for the worker's answer
NOT_THERE = object()  # run() could not use a warm worker: run the step in this process
_HEADER = struct.Struct("!Q")  # the length of the pickle that follows
_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid


def enabled(cfg: Config) -> bool:
    """Whether steps run in warm workers: ``warm_minutes`` above 0, ``TFT_BUILD_WARM`` not 0, on Linux."""
    return cfg.warm_minutes > 0 and os.environ.get(OFF, "") != "0" and sys.platform == "linux"


def run(cfg: Config, step: str, args: tuple[Any, ...], task_name: str, trace_file: str, run_id: str,
        modules: dict[str, str]) -> str | None | object:
    """Run the step in a warm worker: its failure's line, None when it succeeded, or :data:`NOT_THERE`."""
    if not enabled(cfg) or not has_descriptors(sys.stdout, sys.stderr):  # doit -v 0 captures the output
        return NOT_THERE
    request = {"step": step, "cfg": cfg, "args": args, "task": task_name, "trace_file": trace_file,
               "run": run_id, "modules": modules, "cwd": os.getcwd(), "env": dict(os.environ),
               "path": list(sys.path)}
    with slot(cfg) as number:
        if number is None:
            return NOT_THERE
        try:
            answer = ask(cfg, number, request)
        except (OSError, EOFError, pickle.PickleError) as err:
            say(f"tft_build: {task_name}: the warm worker went away ({err or type(err).__name__}); "
                "running the step here")
            return NOT_THERE
    if answer["status"] == "stale":  # tft_build itself changed: the worker has exited
        return NOT_THERE
    return answer["failure"]


def has_descriptors(*streams: Any) -> bool:
    """Whether each stream is a file descriptor's, which a warm worker can write to."""
    try:
        return all(stream.fileno() >= 0 for stream in streams)
    except (AttributeError, ValueError, OSError):
        return False


@contextlib.contextmanager
def slot(cfg: Config) -> Iterator[int | None]:
    """The number of a free slot, held for the block; None when all SLOTS are taken."""
    directory = Path(cfg.artifacts_dir) / layout.WARM_DIR
    directory.mkdir(parents=True, exist_ok=True)
    for number in range(SLOTS):
        fd = os.open(directory / f"slot-{number}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield number
        finally:
            os.close(fd)
        return
    yield None


def address(cfg: Config, number: int) -> bytes:
    """The abstract socket name of the project's warm worker in slot ``number``."""
    whose = json.dumps([PROTOCOL, os.getuid(), str(Path(cfg.artifacts_dir).resolve()), sys.executable,
                        os.environ.get("PYTHONPATH", ""), os.path.dirname(stepcall.__file__)])
    return f"\0tft_build-{hashlib.sha256(whose.encode()).hexdigest()[:32]}-{number}".encode()


def ask(cfg: Config, number: int, request: dict[str, Any]) -> dict[str, Any]:
    """Send the request to the worker in slot ``number`` (started first if none is there); its answer."""
    name = address(cfg, number)
    conn = connect(name)
    if conn is None:
        start(cfg, number, name)
        deadline = time.monotonic() + START_SECONDS
        while conn is None and time.monotonic() < deadline:
            time.sleep(0.05)
            conn = connect(name)
        if conn is None:
            raise OSError("it did not start")
    with conn:
        worker_pid = _CREDENTIALS.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         _CREDENTIALS.size))[0]
        payload = pickle.dumps(request)
        held = [fd for fd in (project_lock_descriptor(),) if fd is not None]  # the lock outlives this process
        socket.send_fds(conn, [_HEADER.pack(len(payload))], [sys.stdout.fileno(), sys.stderr.fileno(), *held])
        conn.sendall(payload)
        sys.stdout.flush()
        try:
            return receive(conn)
        except KeyboardInterrupt:  # the worker stops the step as Ctrl-C would; its answer says it did
            os.kill(worker_pid, signal.SIGINT)
            conn.settimeout(STOP_SECONDS)
            with contextlib.suppress(OSError, EOFError):
                receive(conn)
            raise


def connect(name: bytes) -> socket.socket | None:
    """A connection to the socket ``name``, or None when nothing listens there."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(name)
    except (ConnectionRefusedError, FileNotFoundError):
        conn.close()
        return None
    return conn


def start(cfg: Config, number: int, name: bytes) -> None:
    """Start the warm worker of slot ``number`` in a session of its own; its output goes to its log."""
    directory = Path(cfg.artifacts_dir) / layout.WARM_DIR
    with open(directory / f"worker-{number}.log", "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "tft_build.engine.warm", name[1:].decode(), str(cfg.warm_minutes * 60)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
        )


def receive(conn: socket.socket) -> Any:
    """One length-prefixed pickle from ``conn``."""
    (size,) = _HEADER.unpack(exactly(conn, _HEADER.size))
    return pickle.loads(exactly(conn, size))


def exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("the connection ended")
        data += chunk
    return data


def send(conn: socket.socket, answer: dict[str, Any]) -> None:
    payload = pickle.dumps(answer)
    conn.sendall(_HEADER.pack(len(payload)) + payload)


def say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


# -- the worker


def serve(name: str, idle_seconds: float) -> None:
    """Listen at the abstract socket ``name``, import the step libraries, and run one step per
    connection until none comes for ``idle_seconds``, a step is interrupted, or tft_build changed."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(b"\0" + name.encode())
    except OSError:  # another worker took the slot first
        return
    listener.listen(1)
    log = os.fdopen(os.dup(1), "w", buffering=1)  # the worker's log: fd 1 is the task's while a step runs

    def note(text: str) -> None:
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: {text}\n")

    sys.stdout.reconfigure(line_buffering=True)  # a step's lines reach the task's output whole, as they come
    note("listening")
    from tft_build.engine.parallel import import_step_libraries

    import_step_libraries()
    loaded, limit = resident_bytes(), max_growth_bytes()
    while True:
        conn = next_connection(listener, idle_seconds)
        if conn is None:
            note("idle, exiting")
            return
        with conn:
            conn.settimeout(None)
            try:
                go_on, said, answer = serve_one(conn)
                # The log, then the answer: a task process that has its answer finds the log written
                # (and the project's lock, which the step held, closed here).
                note(said)
                if answer is not None:
                    send(conn, answer)
            except (OSError, EOFError, pickle.PickleError) as err:  # the task's process went away
                go_on = False
                note(f"the connection failed ({err}); exiting")
        if not go_on:
            return
        grown = resident_bytes() - loaded
        if grown > limit:
            note(f"grew by {grown >> 20} MiB since it loaded the libraries (over {MAX_GROWTH}); exiting")
            return


def next_connection(listener: socket.socket, idle_seconds: float) -> socket.socket | None:
    """The next connection, or None after ``idle_seconds`` without one. After :data:`SETTLE_SECONDS`
    without one, between runs rather than between the steps of a run, the worker settles its heap
    (:func:`tft_build.engine.heap.settle`), which the next step would otherwise pay for."""
    waited = 0.0
    if idle_seconds > SETTLE_SECONDS:
        listener.settimeout(SETTLE_SECONDS)
        try:
            return listener.accept()[0]
        except TimeoutError:
            heap.settle()
            waited = SETTLE_SECONDS
    listener.settimeout(idle_seconds - waited)
    try:
        return listener.accept()[0]
    except TimeoutError:
        return None


def resident_bytes() -> int:
    """This process's resident memory (Linux's /proc, as warm workers are Linux's only)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def max_growth_bytes() -> int:
    """How much a worker may grow since it loaded the libraries (:data:`MAX_GROWTH`, in MiB)."""
    try:
        return int(os.environ.get(MAX_GROWTH, DEFAULT_MAX_GROWTH_MB)) << 20
    except ValueError:
        say(f"{MAX_GROWTH}={os.environ[MAX_GROWTH]!r} is not a whole number of MiB; using {DEFAULT_MAX_GROWTH_MB}")
        return DEFAULT_MAX_GROWTH_MB << 20


def serve_one(conn: socket.socket) -> tuple[bool, str, dict[str, Any] | None]:
    """Run the step one connection asks for; whether to go on serving, what happened, and the answer."""
    pid, uid, _ = _CREDENTIALS.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDENTIALS.size))
    if uid != os.getuid():
        return True, f"refused pid {pid} of user {uid}", None
    header, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
    (size,) = _HEADER.unpack(header + exactly(conn, _HEADER.size - len(header)))
    request = pickle.loads(exactly(conn, size))
    task = f"{request['task']} for pid {pid}"
    with as_the_task(request, fds):
        stale = sourceguard.refresh(request["modules"]) or engine_changed()
        if stale:
            said = f"{task}: {', '.join(stale)} changed since this worker imported it; exiting"
            return False, said, {"status": "stale", "failure": None}
        try:
            with stopped_if_gone(conn), interrupt.remembered():
                failure = call(request)
        except KeyboardInterrupt:
            return False, f"{task}: interrupted; exiting", {"status": "interrupted",
                                                            "failure": f"{request['task']}: interrupted"}
    imported = sourceguard.mismatched(request["modules"])
    if imported and not failure:
        failure = f"{request['task']}: module {imported[0]} changed while it ran; run doit again"
    return True, f"{task}: {failure or 'done'}", {"status": "ran", "failure": failure}


def call(request: dict[str, Any]) -> str | None:
    """The step's failure line or None, as :func:`stepcall.call_step` says; an error it raises
    (``TFT_BUILD_VERBOSE``) is printed with its traceback to the task's stderr."""
    import traceback

    try:
        return stepcall.call_step(request["step"], request["cfg"], request["args"], request["task"],
                                  request["trace_file"], request["run"])
    except Exception as err:
        traceback.print_exc()
        return f"{type(err).__name__}: {err}"


@contextlib.contextmanager
def stopped_if_gone(conn: socket.socket) -> Iterator[None]:
    """Within the block, a task process that goes away (killed) stops the step as Ctrl-C would:
    nothing is left running that the next build could meet."""
    done = threading.Event()

    def watch():
        poll = select.poll()
        poll.register(conn, select.POLLRDHUP | select.POLLHUP)
        poll.poll()
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, daemon=True).start()
    try:
        yield
    finally:
        done.set()


def engine_changed() -> list[str]:
    """The tft_build modules this worker imported whose source is not what it imported."""
    changed = []
    for name, module in list(sys.modules.items()):
        imported = sourceguard.imported_digest(name)
        if imported is None or not name.startswith(sourceguard.PACKAGE):
            continue
        try:
            now = sourceguard.source_digest(Path(module.__file__).read_bytes())
        except OSError:
            now = None
        if now != imported:
            changed.append(name)
    return changed


@contextlib.contextmanager
def as_the_task(request: dict[str, Any], fds: list[int]) -> Iterator[None]:
    """Within the block this process has the task's dir, environment, import path, stdout and stderr."""
    saved_dir, saved_env, saved_path = os.getcwd(), dict(os.environ), list(sys.path)
    saved_fds = [os.dup(1), os.dup(2)]
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.path[:] = request["path"]
        sourceguard.add_code_dirs(request["cfg"].code_dirs)
        for fd, target in zip(fds, (1, 2)):  # a third, the project's lock, is only held
            os.dup2(fd, target)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, target in zip(saved_fds, (1, 2), strict=True):
            os.dup2(fd, target)
            os.close(fd)
        for fd in fds:
            os.close(fd)
        os.chdir(saved_dir)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        serve(sys.argv[1], float(sys.argv[2]))
