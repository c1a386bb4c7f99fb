"""A cold `doit` on the default data, a no-op, then the runs after edits of a preprocessing_fn helper.

Makes one user copy of the taxi example per variant (:func:`taxi_copy.copy_example`) and times,
in each: the cold build, a no-op run, then ``--repeats`` edits of the helper `preprocessing_fn`
calls (each reruns the transform and everything after it), the variants taking turns so that
the machine's ups and downs fall on all of them. The variants:

- ``sequential``: ``doit -n 0``, every task in the doit process, one after the other, no warm workers;
- ``parallel``: plain ``doit`` without warm workers (``TFT_BUILD_WARM=0``): independent tasks side by
  side in worker processes;
- ``warm``: plain ``doit``, the steps in warm workers (the cold build starts them);
- ``baseline`` (with ``--baseline DIR``): plain ``doit``, warm workers on, with another checkout of
  tft_build (``git worktree add DIR <commit>``) first on PYTHONPATH and its own copy of the example
  (data, settings, taxi preprocessing): the code before a change, run as ``warm`` is.

Prints the wall time of each run, then the per-task seconds of the fastest edit run of each
variant (and the epochs each training ran, which early stopping chooses), and checks that after
each round of edits every variant's outputs are byte-identical to the sequential build's (the
baseline's aside: other code). Writes JSON.

    python benchmarks/cold_and_incremental.py [--repeats 2] [--baseline DIR] [--out cold_and_incremental.json]

The warm and baseline variants' workers are stopped at the end (they would wait warm_minutes).
"""

import argparse
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate
from taxi_copy import ROOT, copy_example

from tft_build.report.history import read_history

EPOCH_ROWS = "epochs run, "  # the rows of the table that count a training's epochs, not seconds
HELPER = ('"trip_km": km / 10.0', '"trip_km": km / 20.0')  # an edit of what preprocessing_fn computes
COMPARED = ("transformed/data.digest.json", "transformed/transform_fn.digest.json", "models", "serving",
            "predictions", "metrics", "reference", "stats")
# A SavedModel's random id of each save; the serving model's graph, and its manifest that names it, hold
# the transform's table names, which TF takes from the temp dir the transform ran in (the predictions
# and metrics compare what it computes).
SKIPPED = ("fingerprint.pb", "serving/non_embedding/saved_model.pb", "serving/non_embedding/MANIFEST.json",
           "serving/embedding/saved_model.pb", "serving/embedding/MANIFEST.json")


def run(project, variant, label):
    """Time one `doit` of ``variant`` in ``project``; the row for the table."""
    env = {**os.environ, "TFT_BUILD_CACHE_DIR": ""}  # real runs: a build cache would restore them
    env["TFT_BUILD_WARM"] = "1" if variant["warm"] else "0"
    if variant["pythonpath"]:
        env["PYTHONPATH"] = variant["pythonpath"]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "doit", *variant["args"]], cwd=project, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{variant['name']}: doit failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    ran = [line[3:].strip() for line in done.stdout.splitlines() if line.startswith(".  ")]
    return {"variant": variant["name"], "run": label, "seconds": round(seconds, 2), "tasks_run": len(ran)}


def last_run_tasks(project):
    """``{task: seconds}`` of the project's last run, from its history."""
    history = read_history(project / "artifacts")
    last = history[-1]["run"]
    return {line["task"]: line["seconds"] for line in history if line["run"] == last and line["status"] == "ran"}


def epochs_run(project):
    """``{EPOCH_ROWS + model: epochs}`` of the project's last trainings, from their manifests: a
    change that makes a training stop later makes it slower for that alone."""
    manifests = sorted((project / "artifacts" / "models").glob("*/MANIFEST.json"))
    return {EPOCH_ROWS + path.parent.name: json.loads(path.read_text())["epochs_run"] for path in manifests}


def output_digests(project):
    """Every compared output file -> its bytes' digest."""
    artifacts = project / "artifacts"
    digests = {}
    for name in COMPARED:
        path = artifacts / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            shown = str(file.relative_to(artifacts))
            hidden = any(part.startswith(".") for part in file.relative_to(artifacts).parts)  # staging
            if not hidden and file.name not in SKIPPED and shown not in SKIPPED:
                digests[shown] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digests


def stop_warm_workers(project):
    """Stop the warm workers the project's logs name (each logs its pid when it starts)."""
    for log in (project / "artifacts" / ".tft_build-warm").glob("worker-*.log"):
        for pid in {int(p) for p in re.findall(r"pid (\d+): listening", log.read_text())}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def edit(module, round_):
    """Edit the helper's constant: to the other value each round, so that every round reruns."""
    old, new = HELPER if round_ % 2 == 0 else HELPER[::-1]
    text = module.read_text()
    assert old in text, "the benchmark's edit no longer applies to the taxi preprocessing; update HELPER"
    module.write_text(text.replace(old, new))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="edits per variant (default 2)")
    parser.add_argument("--baseline", help="a checkout of tft_build to time as the baseline, e.g. a git worktree")
    parser.add_argument("--out", default="cold_and_incremental.json")
    args = parser.parse_args()
    variants = [{"name": "sequential", "args": ["-n", "0"], "pythonpath": None, "warm": False},
                {"name": "parallel", "args": [], "pythonpath": None, "warm": False},
                {"name": "warm", "args": [], "pythonpath": None, "warm": True}]
    if args.baseline:
        variants.append({"name": "baseline", "args": [], "pythonpath": str(Path(args.baseline).resolve()),
                         "warm": True})
    rows, best, identical = [], {}, []
    with tempfile.TemporaryDirectory() as tmp:
        projects = {}
        for variant in variants:
            project = Path(tmp) / variant["name"]
            project.mkdir()
            projects[variant["name"]] = (project, copy_example(project, variant["pythonpath"] or ROOT))
            rows.append(run(project, variant, "cold"))
            rows.append(run(project, variant, "no-op"))
        for round_ in range(args.repeats):
            for variant in variants:
                project, module = projects[variant["name"]]
                edit(module, round_)
                row = run(project, variant, f"edit {round_ + 1}")
                rows.append(row)
                if variant["name"] not in best or row["seconds"] < best[variant["name"]][0]:
                    best[variant["name"]] = (row["seconds"], {**last_run_tasks(project), **epochs_run(project)})
            one = output_digests(projects["sequential"][0])
            for name in ("parallel", "warm"):
                other = output_digests(projects[name][0])
                identical.append(one == other)
                if one != other:
                    differ = sorted(k for k in one.keys() | other.keys() if one.get(k) != other.get(k))
                    print(f"{name} differs from sequential in: {', '.join(differ)}")
        for variant in variants:
            if variant["warm"]:
                stop_warm_workers(projects[variant["name"]][0])
    print(tabulate(rows, headers="keys", floatfmt=".2f"))
    names = {task for _, per_task in best.values() for task in per_task}
    tasks = sorted(names, key=lambda task: (task.startswith(EPOCH_ROWS), task))  # the epochs last
    table = [[task, *(best[v["name"]][1].get(task) for v in variants)] for task in tasks]
    table.append(["wall time of the run", *(best[v["name"]][0] for v in variants)])
    print(f"\nthe fastest of {args.repeats} edit run(s) of each variant, seconds per task:")
    print(tabulate(table, headers=["task", *(v["name"] for v in variants)], floatfmt=".2f"))
    print(f"\nparallel and warm outputs byte-identical to sequential's after each round: {identical}")
    Path(args.out).write_text(json.dumps({"runs": rows, "fastest_edit": {k: {"seconds": s, "tasks": t}
                                          for k, (s, t) in best.items()}, "identical": identical}, indent=2) + "\n")
    if not all(identical):
        sys.exit("a build's outputs differ from the sequential build's")


if __name__ == "__main__":
    main()
