"""A cold `doit` on the default data, then the incremental run after a preprocessing_fn edit.

Copies the default data and dodo.py into a temp project whose config points
`preprocessing_fn` at a user copy of the taxi preprocessing, then times: the
cold build, a no-op run, and the run after an edit of `preprocessing_fn`
(which must rerun the transform and what depends on it, and nothing else).
Prints a table and writes JSON.

    python benchmarks/cold_and_incremental.py [--out cold_and_incremental.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate
from taxi_copy import copy_example


def run(project, label):
    """Time one `doit` in the project; the row for the table."""
    start = time.perf_counter()
    env = {**os.environ, "TFT_BUILD_CACHE_DIR": ""}  # real runs: a build cache would restore them
    done = subprocess.run([sys.executable, "-m", "doit"], cwd=project, env=env, check=True, capture_output=True,
                          text=True)
    seconds = time.perf_counter() - start
    ran = [line[3:].strip() for line in done.stdout.splitlines() if line.startswith(".  ")]
    return {"run": label, "seconds": seconds, "tasks_run": len(ran), "tasks": ", ".join(ran)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="cold_and_incremental.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        module = copy_example(project)
        rows = [run(project, "cold")]
        rows.append(run(project, "no-op"))
        module.write_text(module.read_text().replace('"trip_km": km / 10.0', '"trip_km": km / 20.0'))
        rows.append(run(project, "after a preprocessing_fn edit"))
    print(tabulate(rows, headers="keys", floatfmt=".2f"))
    Path(args.out).write_text(json.dumps({"results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
