"""Overhead of tft_build when nothing changed: `doit list --all` and a no-op `doit`.

Both commands run on this project (the default data, artifacts in a temp dir,
built once first) and on a trivial dodo.py with eight empty, up-to-date tasks,
interleaved in one run so that a noisy machine affects both alike. Prints a
table of medians and ratios and writes them as JSON.

    python benchmarks/overhead.py [--repeats 9] [--out overhead.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL_DODO = '''
DOIT_CONFIG = {"backend": "sqlite3", "verbosity": 2}


def _make(name):
    def task():
        return {"actions": [lambda: None], "uptodate": [True], "doc": f"empty task {name}"}
    task.__name__ = f"task_{name}"
    return task


for _i in range(8):
    globals()[f"task_t{_i}"] = _make(f"t{_i}")
'''


def timed(command, cwd, env):
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--out", default="overhead.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "trivial").mkdir()
        (tmp / "trivial" / "dodo.py").write_text(TRIVIAL_DODO)
        override = tmp / "override.toml"
        override.write_text(f'artifacts_dir = "{tmp / "artifacts"}"\n')
        ours_env = {**os.environ, "TFT_BUILD_CONFIG": str(override), "TFT_BUILD_CACHE_DIR": ""}  # not the user's cache
        doit = [sys.executable, "-m", "doit"]
        print("building the project once (artifacts in a temp dir)...", flush=True)
        subprocess.run(doit, cwd=ROOT, env=ours_env, check=True, capture_output=True)
        subprocess.run(doit, cwd=tmp / "trivial", env=os.environ, check=True, capture_output=True)
        cases = {
            "doit list --all": (doit + ["list", "--all"]),
            "no-op doit": doit,
        }
        samples = {(name, who): [] for name in cases for who in ("tft_build", "trivial")}
        for _ in range(args.repeats):
            for name, command in cases.items():
                samples[(name, "tft_build")].append(timed(command, ROOT, ours_env))
                samples[(name, "trivial")].append(timed(command, tmp / "trivial", os.environ))
    rows = []
    for name in cases:
        ours = statistics.median(samples[(name, "tft_build")])
        trivial = statistics.median(samples[(name, "trivial")])
        rows.append({"command": name, "tft_build_s": ours, "trivial_dodo_s": trivial, "ratio": ours / trivial})
    print(f"medians of {args.repeats} interleaved runs")
    print(tabulate(rows, headers="keys", floatfmt=".3f"))
    Path(args.out).write_text(json.dumps({"repeats": args.repeats, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
