"""The guards of the artifacts dir: tft_build builds into and cleans only a dir that is plainly its own."""

import dataclasses

import pytest

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.engine.safety import (
    UnsafeArtifactsDir,
    check_artifacts_dir,
    check_clean_target,
    made_by_tft_build,
    make_artifacts_dir,
)


def config(project, artifacts, **settings):
    return Config(project_dir=project, artifacts_dir=artifacts, train_data=(str(project / "data" / "train.csv"),),
                  eval_data=(str(project / "data" / "eval.csv"),), config_files=(str(project / "pyproject.toml"),),
                  **settings)


@pytest.mark.parametrize("where", ["root", "home", "project"])
def test_the_root_the_home_dir_and_the_project_are_refused(tmp_path, where):
    artifacts = {"root": tmp_path.anchor, "home": str(tmp_path.home()), "project": str(tmp_path)}[where]
    with pytest.raises(UnsafeArtifactsDir, match="filesystem root, the home dir or the project root"):
        check_artifacts_dir(config(tmp_path, artifacts))


def test_a_dir_holding_the_data_or_the_config_is_refused(tmp_path):
    cfg = config(tmp_path, tmp_path / "out")
    with pytest.raises(UnsafeArtifactsDir, match="data/train.csv"):
        check_artifacts_dir(dataclasses.replace(cfg, train_data=(str(tmp_path / "out" / "data" / "train.csv"),)))
    with pytest.raises(UnsafeArtifactsDir, match="settings.toml"):
        check_artifacts_dir(dataclasses.replace(cfg, config_files=(str(tmp_path / "out" / "settings.toml"),)))
    (tmp_path / "out" / "data").mkdir(parents=True)
    with pytest.raises(UnsafeArtifactsDir, match="set another artifacts_dir"):
        check_artifacts_dir(cfg)


def test_clean_empties_only_what_tft_build_made(tmp_path):
    artifacts = tmp_path / "artifacts"
    for name in (layout.RAW, layout.MODELS, layout.STATE_FILE, layout.LOCK_FILE, ".models.tmp-x1"):
        (artifacts / name).mkdir(parents=True)
    check_clean_target(config(tmp_path, artifacts))  # all tft_build's: may be emptied
    (artifacts / "notes.txt").write_text("mine")
    with pytest.raises(UnsafeArtifactsDir, match=r"did not make \(notes.txt\)"):
        check_clean_target(config(tmp_path, artifacts))


@pytest.mark.parametrize("name, ours", [
    (layout.TRANSFORMED, True), (layout.REPORTS, True), (layout.CODE_CACHE, True), (".serving.old-3f", True),
    ("data", False), ("model.keras", False), (".hidden", False),
])
def test_what_counts_as_made_by_tft_build(name, ours):
    assert made_by_tft_build(name) is ours


def test_an_artifacts_dir_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "artifacts").write_text("not a dir")
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    with pytest.raises(UnsafeArtifactsDir, match="setting 'artifacts_dir': .*artifacts is a file, not a dir"):
        make_artifacts_dir(cfg)
    make_artifacts_dir(dataclasses.replace(cfg, artifacts_dir=tmp_path / "new" / "artifacts"))
    assert (tmp_path / "new" / "artifacts").is_dir() and not list((tmp_path / "new" / "artifacts").iterdir())
