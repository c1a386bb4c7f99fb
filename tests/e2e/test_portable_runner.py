"""A cluster-shaped run: the transform on Beam's portable job service with an external SDK worker pool.

What Dataflow, Flink and Spark speak is Beam's portability protocol: a job
service takes the pipeline, and SDK workers that run elsewhere pull its work
over gRPC. Here both are Beam's own (``local_job_service_main`` and
``worker_pool_main``), as separate processes; the worker pool runs in a network
namespace of its own, joined to this one by a veth pair, with its own working
dir and the project dirs hidden from it (a tmpfs over each), so it reaches the
job service only over that link and the data only through ``shared_dir``, as
a remote worker does. Its "image" is tft_build and a copy of the user's
modules on its ``PYTHONPATH``.

The job service tells workers to connect back to ``socket.getfqdn()``; it runs
under a host name of its own (a UTS namespace), which the worker's namespace
resolves to the host end of the link (``/etc/netns/<ns>/hosts``), as a
cluster's DNS would. Without root, ``ip`` or ``unshare`` the same processes
run on localhost, with a warning that says so.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import ROOT, make_project, ran

JOB_SERVICE = "apache_beam.runners.portability.local_job_service_main"
WORKER_POOL = "apache_beam.runners.worker.worker_pool_main"
POOL_PORT = 50000  # inside the worker's own namespace nothing else listens
STEPS = ("transform_raw_data", "train_and_predict_non_embedding_model")
USER_MODULES = "my_*.py"  # the test project's code that Beam's workers import (support.make_project)


@dataclass
class Network:
    """A network namespace for the worker pool, linked to this one by a veth pair."""

    namespace: str
    host_address: str
    worker_address: str
    job_host: str  # the job service's host name, resolved in the namespace to host_address
    made: list = field(default_factory=list)  # the undo commands of what was set up, last first

    @classmethod
    def make(cls):
        """Set the namespace up (names and a /30 from this process's id); raise if it cannot be made."""
        pid = os.getpid()
        subnet = 4 * (pid % 16384)
        net = cls(f"tftb-{pid}", f"10.213.{subnet >> 8}.{(subnet & 255) + 1}",
                  f"10.213.{subnet >> 8}.{(subnet & 255) + 2}", f"tftb-jobs-{pid}")
        host_veth, worker_veth = f"tftb{pid}h", f"tftb{pid}w"
        try:
            net.run("ip", "netns", "add", net.namespace, undo=["ip", "netns", "delete", net.namespace])
            hosts = Path("/etc/netns") / net.namespace
            hosts.mkdir(parents=True)
            net.made.insert(0, ["rm", "-rf", str(hosts)])
            (hosts / "hosts").write_text(f"127.0.0.1 localhost\n{net.host_address} {net.job_host}\n")
            net.run("ip", "link", "add", host_veth, "type", "veth", "peer", "name", worker_veth,
                    undo=["ip", "link", "delete", host_veth])
            net.run("ip", "link", "set", worker_veth, "netns", net.namespace)
            net.run("ip", "addr", "add", f"{net.host_address}/30", "dev", host_veth)
            net.run("ip", "link", "set", host_veth, "up")
            for command in (["addr", "add", f"{net.worker_address}/30", "dev", worker_veth],
                            ["link", "set", worker_veth, "up"], ["link", "set", "lo", "up"]):
                net.run("ip", "netns", "exec", net.namespace, "ip", *command)
        except BaseException:
            net.remove()
            raise
        return net

    def run(self, *command, undo=None):
        subprocess.run(command, check=True, capture_output=True, text=True)
        if undo:
            self.made.insert(0, undo)

    def remove(self):
        """Undo everything made, even after a partial set-up (the veth pair goes with the namespace)."""
        for command in self.made:
            subprocess.run(command, capture_output=True)


def namespaces_or_why_not():
    """A Network, or None and why it cannot be made here."""
    missing = [tool for tool in ("ip", "unshare", "mount") if not shutil.which(tool)]
    if os.geteuid() != 0 or missing:
        return None, f"not root or missing {', '.join(missing) or 'nothing'}"
    try:
        return Network.make(), ""
    except subprocess.CalledProcessError as err:
        return None, f"{' '.join(err.cmd)}: {err.stderr.strip()}"
    except OSError as err:
        return None, str(err)


@dataclass
class Cluster:
    """A running job service and worker pool, and the Beam options that send a pipeline to them."""

    job_endpoint: str
    pool_address: str
    logs: Path
    network: Network | None
    processes: list

    @property
    def beam_args(self):
        return ["--runner=PortableRunner", f"--job_endpoint={self.job_endpoint}",
                "--environment_type=EXTERNAL", f"--environment_config={self.pool_address}"]

    def log(self, name):
        return (self.logs / f"{name}.log").read_text()


def start(command, log, cwd, env=None):
    """Start a service in a session of its own (so it and the workers it starts can be stopped together)."""
    with open(log, "w") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(process):
    """Stop a service started by ``start``, and its workers, by its process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(check, what, process, log, timeout=120):
    """Wait until ``check()`` is true; fail with the service's log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{what} did not start:\n{Path(log).read_text()}")
        time.sleep(0.5)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path, request):
    """Beam's job service on this host and a worker pool in its own namespace (or on localhost)."""
    network, why_not = namespaces_or_why_not()
    if network:
        request.addfinalizer(network.remove)
    else:
        message = f"no network namespace ({why_not}): the worker pool runs on localhost instead"
        print(message)
        warnings.warn(message, stacklevel=1)
    processes = []
    request.addfinalizer(lambda: [stop(p) for p in processes])
    logs, worker = tmp_path / "logs", tmp_path / "worker"
    logs.mkdir()
    (worker / "code").mkdir(parents=True)

    port_file = logs / "job_service.port"
    job_service = [sys.executable, "-m", JOB_SERVICE, "--port=0", f"--port_file={port_file}"]
    if network:  # the host name the job service gives its workers (getfqdn) is one they resolve
        job_service = ["unshare", "--uts", "sh", "-c", f'hostname {network.job_host} && exec "$@"', "-",
                       *job_service]
    processes.append(start(job_service, logs / "job_service.log", cwd=logs))
    wait_for(port_file.exists, "the job service", processes[-1], logs / "job_service.log")

    return lambda hidden: start_pool(hidden, network, worker, logs, processes, port_file.read_text())


def start_pool(hidden, network, worker, logs, processes, job_port):
    """Start the worker pool, with the user's modules of ``hidden[0]`` copied into its image and the dirs
    ``hidden`` out of its sight; the Cluster."""
    for module in hidden[0].glob(USER_MODULES):
        shutil.copy(module, worker / "code")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(worker / "code")]),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}  # it runs `python`
    port = POOL_PORT if network else free_port()
    pool = [sys.executable, "-m", WORKER_POOL, f"--service_port={port}"]
    if network:
        hide = " && ".join(f"mount -t tmpfs tmpfs {d}" for d in hidden)
        pool = ["ip", "netns", "exec", network.namespace, "unshare", "--mount", "sh", "-c",
                f'{hide} && exec "$@"', "-", *pool]
    processes.append(start(pool, logs / "worker_pool.log", cwd=worker, env=env))
    host = network.worker_address if network else "localhost"
    wait_for(lambda: listening(host, port), "the worker pool", processes[-1], logs / "worker_pool.log")
    return Cluster(f"localhost:{job_port}", f"{host}:{port}", logs, network, processes)


def listening(host, port):
    """Whether a server accepts connections at ``host:port`` (the worker pool logs nothing when it does)."""
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def records(build):
    """The bytes of each TFRecord file of a transform build dir, by name."""
    return {p.name: p.read_bytes() for p in sorted(Path(build).glob("*.tfrecord"))}


def test_the_transform_on_a_portable_job_service_and_remote_workers_equals_a_local_run(tmp_path, cluster):
    """The records, the digests of records and graph, the statistics and the trained model's metrics of a
    run whose Beam work was done by a worker pool behind a network link equal those of a local run."""
    local = make_project(tmp_path / "local", train_rows=200, eval_rows=50)
    remote = make_project(tmp_path / "remote", train_rows=200, eval_rows=50)  # the same seed: the same files
    shared = tmp_path / "shared"
    shutil.copytree(remote.root / "data", shared / "data")  # the CSVs the transform reads
    run = cluster([remote.root, local.root])
    config = tmp_path / "cluster.toml"
    config.write_text(
        f'train_data = ["{shared}/data/train.csv"]\neval_data = ["{shared}/data/eval.csv"]\n'
        f'shared_dir = "{shared}/builds"\nbeam_pipeline_args = {json.dumps(run.beam_args)}\n'
    )
    local_run = local.start(*STEPS)
    done = remote.doit(*STEPS, env={"TFT_BUILD_CONFIG": str(config)})
    out, err = local_run.communicate()
    assert local_run.returncode == 0, out + err
    assert set(STEPS) <= ran(done.stdout)

    service, pool = run.log("job_service"), run.log("worker_pool")
    assert "Completed job" in service and "with state DONE" in service
    if run.network:  # the job service's endpoints reached the worker by the name it resolves over the link
        assert f"Requesting worker at {run.pool_address}" in service
        assert f'SdkHarness("{run.network.job_host}:' in pool
    assert "prism" not in (service + pool + done.stdout + done.stderr).lower()

    mine, theirs = remote.artifacts / "transformed", local.artifacts / "transformed"
    build = json.loads((mine / "location.json").read_text())["data_dir"]
    assert build.startswith(f"{shared}/builds/transformed/")
    assert records(build) == records(theirs) and len(records(build)) == 2
    for name in ("data.digest.json", "transform_fn.digest.json"):
        assert (mine / name).read_text() == (theirs / name).read_text(), name
    for stats in sorted((local.artifacts / "stats").glob("*.json")):
        assert (remote.artifacts / "stats" / stats.name).read_text() == stats.read_text(), stats.name
    metrics = "metrics/non_embedding.json"
    assert json.loads((remote.artifacts / metrics).read_text()) == json.loads((local.artifacts / metrics).read_text())
