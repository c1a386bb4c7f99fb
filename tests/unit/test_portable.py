"""Paths in doit's record and the cache's keys: relative to the project, so a moved project keeps them."""

import json

from tft_build.engine import portable

ROOTS = (("$ARTIFACTS", "/p/artifacts"), ("$PROJECT", "/p"))
MOVED = (("$ARTIFACTS", "/elsewhere/q/artifacts"), ("$PROJECT", "/elsewhere/q"))


def test_a_path_is_named_by_the_most_specific_root_it_is_under():
    assert portable.portable("/p/data/train.csv", ROOTS) == "$PROJECT/data/train.csv"
    assert portable.portable("/p/artifacts/raw/MANIFEST.json", ROOTS) == "$ARTIFACTS/raw/MANIFEST.json"
    assert portable.portable("/px/data.csv", ROOTS) == "/px/data.csv"  # a sibling, not under /p
    assert portable.portable("gs://bucket/a.csv", ROOTS) == "gs://bucket/a.csv"
    assert portable.local("$PROJECT/data/train.csv", MOVED) == "/elsewhere/q/data/train.csv"
    assert portable.local("/px/data.csv", MOVED) == "/px/data.csv"


def test_the_codec_stores_relative_keys_and_reads_them_back_where_the_project_is_now():
    record = {
        "/p/data/train.csv": [1, 2, 3, 4, "md5"],
        "/other/x.csv": [5, 6, 7, 8, "md5"],
        "deps:": ["/p/data/train.csv", "/other/x.csv"],
        "_values_:": {"_settings": {"noise_floor_file": "$PROJECT/data/noise_floor.json"}},
        "checker:": "StatDigestChecker",
    }
    stored = portable.codec_for(ROOTS)().encode(record)
    assert "/p/" not in stored and "$PROJECT/data/train.csv" in json.loads(stored)
    moved = portable.codec_for(MOVED)().decode(stored)
    assert moved["/elsewhere/q/data/train.csv"] == [1, 2, 3, 4, "md5"]
    assert moved["deps:"] == ["/elsewhere/q/data/train.csv", "/other/x.csv"]
    assert moved["_values_:"] == record["_values_:"] and moved["/other/x.csv"] == record["/other/x.csv"]
