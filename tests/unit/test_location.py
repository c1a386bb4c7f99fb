"""Where bulk output lives, and data on remote storage read through Beam's filesystems.

No cloud storage is reachable here, so ``testfs://`` (:mod:`remotefs`, a Beam
filesystem over a local dir) stands in for ``gs://`` and the like.
"""

import json

import pytest
from remotefs import SCHEME

from tft_build import layout
from tft_build.config.schema import columns_from_pairs
from tft_build.config.settings import Config, matching_files
from tft_build.engine.uptodate import remote_files_unchanged
from tft_build.io import arrowcsv, csvio, location

COLUMNS = columns_from_pairs([("name", "string"), ("price", "float"), ("count", "int", 0)])


@pytest.fixture
def shards(tmp_path):
    (tmp_path / "b.csv").write_text("name,price,count\nx,1.5,NA\ny,2.5,3\n")
    (tmp_path / "a.csv").write_text("name,price,count\nz,0.5,\n")
    return tmp_path


def test_remote_globs_match_sorted_like_local_ones(shards):
    assert matching_files([f"{SCHEME}{shards}/*.csv"]) == [f"{SCHEME}{shards}/a.csv", f"{SCHEME}{shards}/b.csv"]
    assert matching_files([f"{SCHEME}{shards}/nothing-*.csv"]) == []


def test_remote_csvs_read_as_local_ones(shards):
    for name in ("a.csv", "b.csv"):
        remote, near = f"{SCHEME}{shards}/{name}", str(shards / name)
        assert list(csvio.read_rows(remote, COLUMNS)) == list(csvio.read_rows(near, COLUMNS))
        arrow = [row for batch in arrowcsv.read_batches(remote, COLUMNS) for row in batch.to_pylist()]
        assert arrow == [row for _, row in csvio.read_rows(near, COLUMNS)]
    assert [row["count"] for _, row in csvio.read_rows(f"{SCHEME}{shards}/b.csv", COLUMNS)] == [0, 3]


def test_a_bad_remote_line_is_reported_with_its_url(shards):
    (shards / "bad.csv").write_bytes(b"name,price,count\nx,1.5,1\n\xe9,2,2\n")
    with pytest.raises(Exception, match=f"{SCHEME}{shards}/bad.csv:3: not UTF-8"):
        list(csvio.read_rows(f"{SCHEME}{shards}/bad.csv", COLUMNS))


def test_remote_data_changes_are_seen_without_hashing(shards):
    pattern = f"{SCHEME}{shards}/*.csv"
    saved = {"_remote_files": remote_files_unchanged([pattern]).current()}
    assert remote_files_unchanged([pattern])(None, saved)
    (shards / "a.csv").write_text("name,price,count\nz,0.5,1\nw,1,1\n")
    check = remote_files_unchanged([pattern])
    assert not check(None, saved)
    assert check.changes(saved) == [f"file changed: {SCHEME}{shards}/a.csv"]
    (shards / "c.csv").write_text("name,price,count\n")
    assert f"file added: {SCHEME}{shards}/c.csv" in remote_files_unchanged([pattern]).changes(saved)


def test_build_dirs_local_or_shared(tmp_path):
    cfg = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts")
    staging = tmp_path / "artifacts" / ".transformed.tmp-1"
    assert location.new_build_dir(cfg, "transformed", staging) == str(staging)
    assert location.data_dir(cfg, "transformed") == cfg.artifact("transformed")
    shared = Config(project_dir=tmp_path, artifacts_dir=tmp_path / "artifacts", shared_dir="gs://bucket/run/")
    build = location.new_build_dir(shared, "transformed", staging)
    assert build.startswith("gs://bucket/run/transformed/") and len(build.rsplit("/", 1)[1]) == 32
    pointer = tmp_path / "artifacts" / "transformed" / layout.LOCATION
    pointer.parent.mkdir(parents=True)
    pointer.write_text(json.dumps({"data_dir": build}))
    assert location.data_dir(cfg, "transformed") == build


def test_a_pointed_remote_build_is_removed(tmp_path):
    build = tmp_path / "shared" / "transformed" / "0123"
    build.mkdir(parents=True)
    (build / "train-00000-of-00001.tfrecord").write_bytes(b"x")
    step_dir = tmp_path / "artifacts" / "transformed"
    step_dir.mkdir(parents=True)
    (step_dir / layout.LOCATION).write_text(json.dumps({"data_dir": f"{SCHEME}{build}"}))
    location.remove_pointed_build(step_dir)
    assert not build.exists() and (tmp_path / "shared" / "transformed").exists()


def test_a_filesystem_beam_does_not_have_is_one_line():
    from tft_build.errors import DataError

    with pytest.raises(DataError, match=r"^nosuchfs://bucket/\*\.csv: cannot list it \(") as err:
        matching_files(["nosuchfs://bucket/*.csv"])
    assert "\n" not in str(err.value)
