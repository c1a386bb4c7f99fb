"""The build cache on the default data: cold build, an edit, and the edit reverted.

Copies the default data and dodo.py into a temp project whose config points
`preprocessing_fn` at a user copy of the taxi preprocessing, with a build
cache of its own in the temp dir, then times, side by side in one run:

- the cold build (every task runs and is stored in the cache);
- the run after an edit of `scale_longitude` (the transform and what depends
  on it run);
- the run after reverting that edit: every task must be restored from the
  cache, none run, and every output must be byte-identical to the cold
  build's (checked here; the script fails otherwise).

Prints a table and writes JSON.

    python benchmarks/cache.py [--out cache.json]
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate
from taxi_copy import copy_example

ORIGINAL = "return (lon + 78.0) / 8.0"
EDITED = "return (lon + 74.0) / 2.0"
STATUS = re.compile(r"^(\w+)\s+(ran|restored|up to date|failed)\s", re.M)
OUTPUTS = ("raw", "transformed", "models", "serving", "predictions", "metrics")


def run(project, env, label):
    """Time one `doit` in the project; the row for the table."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "doit"], cwd=project, env=env, check=True,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    statuses = dict(STATUS.findall(done.stdout))
    counts = {status: sum(1 for s in statuses.values() if s == status) for status in ("ran", "restored")}
    return {"run": label, "seconds": seconds, **counts}


def output_digests(artifacts):
    """The sha256 of every file the pipeline's tasks write, by path under the artifacts dir."""
    return {
        str(p.relative_to(artifacts)): hashlib.sha256(p.read_bytes()).hexdigest()
        for name in OUTPUTS
        for p in sorted((artifacts / name).rglob("*"))
        if p.is_file()
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="cache.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp, "project")
        module = copy_example(project)
        env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp, "cache"))}
        rows = [run(project, env, "cold")]
        first = output_digests(project / "artifacts")
        source = module.read_text()
        assert ORIGINAL in source, "the taxi preprocessing's scale_longitude changed; update this benchmark"
        module.write_text(source.replace(ORIGINAL, EDITED))
        rows.append(run(project, env, "after an edit of scale_longitude"))
        module.write_text(source)
        rows.append(run(project, env, "after reverting the edit"))
        identical = output_digests(project / "artifacts") == first
    print(tabulate(rows, headers="keys", floatfmt=".2f"))
    reverted = rows[-1]
    print(f"after the revert: {reverted['ran']} task(s) ran, {reverted['restored']} restored; "
          f"outputs byte-identical to the cold build's: {identical}")
    Path(args.out).write_text(json.dumps({"results": rows, "identical": identical}, indent=2) + "\n")
    if reverted["ran"] or not identical:
        sys.exit("the revert did not restore the cold build exactly")


if __name__ == "__main__":
    main()
