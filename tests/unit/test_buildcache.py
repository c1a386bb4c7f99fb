"""Build cache keys and the cache's failures, without running a pipeline."""

import io

from tft_build.config.settings import Config
from tft_build.engine import buildcache
from tft_build.engine.snapshot import Snapshot

CODE = {"digest": "c0de", "externals": {}, "definitions": {"m:f": {"hash": "h", "source": "def f(): ..."}},
        "modules": {"m": "s0urce"}}


def snapshot(root, md5="aa", settings=None, modules="s0urce"):
    files = {f"{root}/data/train.csv": [1, 2, 3, 4, md5], f"{root}/artifacts/raw/MANIFEST.json": [5, 6, 7, 8, "bb"]}
    code = {**CODE, "modules": {"m": modules}}
    return Snapshot(files, {"_code": code, "_settings": settings or {"nbuckets": 10}})


def key(root, **kwargs):
    roots = (("$ARTIFACTS", f"{root}/artifacts"), ("$PROJECT", root))
    return buildcache.key_of(buildcache.inputs("transform_raw_data", snapshot(root, **kwargs), roots))


def test_the_key_is_the_same_wherever_the_project_is_and_changes_with_every_input():
    assert key("/p") == key("/elsewhere/q")
    assert key("/p", md5="cc") != key("/p")
    assert key("/p", settings={"nbuckets": 8}) != key("/p")
    # An edit elsewhere in a module (same code digest) is no change of what the task runs.
    assert key("/p", modules="edited") == key("/p")


def test_a_cache_that_fails_is_said_once_and_left_for_the_rest_of_the_run(tmp_path):
    blocker = tmp_path / "not a dir"
    blocker.write_text("")
    cfg = Config(project_dir=tmp_path, cache_dir=str(blocker))
    store = buildcache.store_for(cfg)
    out = io.StringIO()
    try:
        store.put_entry("ab" * 32, {"key": "ab" * 32})
    except OSError as err:
        buildcache.give_up(store, "store the build in", err, out)
    assert f"could not store the build in the build cache {blocker}" in out.getvalue()
    assert "going on without it for this run" in out.getvalue()
    assert buildcache.store_for(cfg) is None
