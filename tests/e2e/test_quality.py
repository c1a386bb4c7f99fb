"""Model quality on the embedded default data, built by the real tasks.

The default data (``data/``) with the project's own settings, artifacts in a
temp dir: both models must beat the mean-of-train baseline widely, the
embedding model must come within 1.1x of the generator's noise floor and be
no worse than the non-embedding model. The reference model (boosted trees on
the same features and rows) stands beside each, on the same eval rows, and
must be a serious reference: as close to the noise floor.
"""

import json
import os
import subprocess
import sys

from support import ROOT, ran


def test_default_data_models_reach_the_noise_floor(tmp_path):
    override = tmp_path / "override.toml"
    override.write_text(f'artifacts_dir = "{tmp_path / "artifacts"}"\n')
    env = {**os.environ, "TFT_BUILD_CONFIG": str(override)}
    done = subprocess.run([sys.executable, "-m", "doit"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "train_and_predict_embedding_model" in ran(done.stdout)
    metrics = {
        model: json.loads((tmp_path / "artifacts" / "metrics" / f"{model}.json").read_text())
        for model in ("non_embedding", "embedding")
    }
    reference = json.loads((tmp_path / "artifacts" / "reference" / "metrics.json").read_text())
    for model, m in metrics.items():
        assert m["count"] > 1900
        assert m["rmse"] < 0.5 * m["baseline_rmse"], (model, m)
        assert m["count"] == reference["count"] and m["reference_rmse"] == reference["reference_rmse"]
    assert reference["reference_rmse"] <= 1.25 * metrics["embedding"]["noise_floor_rmse"], reference
    embedding = metrics["embedding"]
    assert embedding["noise_floor_rmse"] > 0
    assert embedding["rmse"] <= 1.1 * embedding["noise_floor_rmse"], embedding
    assert embedding["rmse"] <= metrics["non_embedding"]["rmse"], metrics
