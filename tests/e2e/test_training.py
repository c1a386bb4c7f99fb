"""Training's speed-ups change no result: the model doit trained, with many batches per call of Keras's
train step, is the one that one batch per call trains, byte for byte."""

import shutil
import subprocess
import sys
import textwrap

from support import NO_CACHE

ONE_BATCH_PER_CALL = textwrap.dedent("""
    from tft_build.config.settings import load_config
    from tft_build.steps import train

    train.BATCHES_PER_CALL = 1
    train.train_model(load_config("."), "non_embedding")
""")


def test_one_batch_per_call_trains_the_model_doit_trained(built, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(built.root, copy)
    model = built.artifacts / "models" / "non_embedding" / "model.keras"
    done = subprocess.run([sys.executable, "-c", ONE_BATCH_PER_CALL], cwd=copy, env=built.environment(NO_CACHE),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    retrained = copy / "artifacts" / "models" / "non_embedding" / "model.keras"
    assert retrained.stat().st_mtime_ns > model.stat().st_mtime_ns  # trained again, not the copy's file
    assert retrained.read_bytes() == model.read_bytes()
