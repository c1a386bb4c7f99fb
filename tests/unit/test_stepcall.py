"""What a failed step says: a full disk is named whatever the libraries wrapped it in."""

import errno

from tft_build.config.settings import Config
from tft_build.engine.stepcall import out_of_space


def wrapped(inner: BaseException) -> RuntimeError:
    """``inner`` inside a RuntimeError, the way Beam re-raises a failed transform."""
    try:
        try:
            raise inner
        except BaseException as err:
            raise RuntimeError("Failed to apply: CreateSavedModelForAnalyzerInputs[Phase0]") from err
    except RuntimeError as outer:
        return outer


def test_a_full_disk_wrapped_by_beam_names_the_artifacts_dir(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    (tmp_path / "artifacts").mkdir()
    inner = OSError(f"{tmp_path}/artifacts/.transformed.tmp-x/saved_model.pb; No space left on device")
    said = out_of_space(cfg, wrapped(inner))
    assert said.startswith(f"no space left on the device of {tmp_path / 'artifacts'} ("), said


def test_an_enospc_errno_counts_and_other_errors_do_not(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path)
    assert out_of_space(cfg, OSError(errno.ENOSPC, "full", str(tmp_path / "f"))) is not None
    assert out_of_space(cfg, wrapped(KeyError("no_such_column"))) is None
