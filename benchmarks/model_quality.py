"""The taxi models' quality at three data sizes, against the reference model, the noise floor and the baseline.

Builds the taxi example with its default settings on the embedded data
(10,000 training rows) and on two generated sets (2,000 and 20,000 rows,
4,000 eval rows, seed 7), each in a temp project with the build cache off,
and prints each model's RMSE on the eval rows (which it never saw) with the
reference model's, the generator's noise floor and the mean-of-train
baseline, and the best network's ratio to the reference (the README's
"The taxi models" table). Synthetic data only: the real sample is kept
aside for checks.

    python benchmarks/model_quality.py [--out model_quality.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tabulate import tabulate

from tft_build.examples.taxi import datagen

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("non_embedding", "embedding")
GENERATED = (2_000, 20_000)  # training rows of the generated sets, beside the embedded data's 10,000
EVAL_ROWS, SEED = 4_000, 7


def build(project: Path, data: Path) -> dict[str, dict[str, float]]:
    """A cold `doit` of the taxi example on ``data`` in ``project``; each model's metrics."""
    shutil.copytree(data, project / "data")
    shutil.copy(ROOT / "dodo.py", project / "dodo.py")
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    env = {**os.environ, "TFT_BUILD_CACHE_DIR": ""}
    subprocess.run([sys.executable, "-m", "doit"], cwd=project, env=env, check=True, capture_output=True)
    return {m: json.loads((project / "artifacts" / "metrics" / f"{m}.json").read_text()) for m in MODELS}


def row(label: str, metrics: dict[str, dict[str, float]]) -> dict[str, object]:
    """The table's row of one data set."""
    first = metrics[MODELS[0]]
    best = min(m["rmse"] for m in metrics.values())
    return {
        "train rows": label,
        **{m: metrics[m]["rmse"] for m in MODELS},
        "reference": first["reference_rmse"],
        "best / reference": best / first["reference_rmse"],
        "noise floor": first["noise_floor_rmse"],
        "mean of train": first["baseline_rmse"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="model_quality.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = [("10,000 (data/)", ROOT / "data")]
        for n in GENERATED:
            datagen.write_dataset(tmp / f"gen{n}", n, EVAL_ROWS, SEED)
            sets.append((f"{n:,} (generated, seed {SEED})", tmp / f"gen{n}"))
        for i, (label, data) in enumerate(sorted(sets, key=lambda s: int(s[0].split()[0].replace(",", "")))):
            rows.append(row(label, build(tmp / f"project{i}", data)))
            print(f"built {label}", file=sys.stderr)
    print(tabulate(rows, headers="keys", floatfmt=".3f"))
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
