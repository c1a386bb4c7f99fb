"""The transform's data checks: from the statistics its pipeline gathered to ``artifacts/stats``.

The pipeline's counted reads each leave one JSON partial of their CSV's
statistics (:mod:`tft_build.steps.batching`). After the run,
:func:`check_data` merges them per split, reads the schema file (or, when
there is none, infers the schema from the training statistics), finds the
anomalies and writes ``artifacts/stats/``: ``train.json``, ``eval.json``,
``anomalies.json`` and ``schema.toml``, the schema text the data was checked
against. The engine copies that into the project's schema file when it has
none (:class:`tft_build.engine.uptodate.schema_unchanged`), so the first
build leaves a schema for the user to edit and commit.
"""

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from tft_build import layout
from tft_build.datacheck import anomalies, expectations, stats
from tft_build.display import shown
from tft_build.engine.trace import traced
from tft_build.errors import DataError
from tft_build.io import manifest
from tft_build.io.atomic import atomic_dir

if TYPE_CHECKING:
    from tft_build.config.settings import Config


def read_partials(partials_file: str) -> list[dict[str, Any]]:
    """The statistics' partials a Beam pipeline wrote, one JSON line each."""
    with tf.io.gfile.GFile(partials_file) as f:
        return parsed_partials(f)


def parsed_partials(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The statistics' partials of their JSON lines (as the counted reads emit them)."""
    return [json.loads(line) for line in lines if line.strip()]


@traced
def check_data(cfg: "Config", partials: Sequence[Mapping[str, Any]], splits: Sequence[str]) -> dict[str, Any]:
    """Merge the partials, check them against the schema; the statistics, the schema's text and the anomalies.

    With ``fail_on_anomalies``, anomalies are a :class:`DataError`, one line each.
    """
    merged = {split: stats.merge([p for p in partials if p["split"] == split]) for split in splits}
    edges = stats.histogram_edges(merged["train"])
    if os.path.exists(cfg.schema_file):
        with open(cfg.schema_file, encoding="utf-8") as f:
            schema_text = f.read()
        expected = expectations.read(cfg.schema_file)
    else:
        expected = expectations.infer(merged["train"])
        schema_text = expectations.render(expected)
    found = anomalies.find(merged, expected, edges)
    if found and cfg.fail_on_anomalies:
        where = shown(cfg.schema_file)
        lines = [f"{where}: {a['split']} column '{a['column']}': {a['check']}: {a['message']}" for a in found]
        raise DataError("\n".join(lines + [f"({len(found)} anomalies; {cfg.where('fail_on_anomalies')} is true)"]))
    return {
        "stats": {split: stats.describe(merged[split], edges) for split in splits},
        "schema": schema_text, "anomalies": found,
    }


@traced
def write_stats(cfg: "Config", checked: dict[str, Any]) -> None:
    """``artifacts/stats/`` from :func:`check_data`'s result, atomically, manifest last."""
    with atomic_dir(cfg.artifact(layout.STATS)) as staging:
        for split, figures in checked["stats"].items():
            (staging / layout.stats_file(split)[1]).write_text(manifest.to_json(figures), encoding="utf-8")
        (staging / layout.ANOMALIES_FILE).write_text(
            manifest.to_json({"anomalies": checked["anomalies"]}), encoding="utf-8")
        (staging / layout.SCHEMA_COPY).write_text(checked["schema"], encoding="utf-8")
        manifest.write_manifest(staging, {"anomalies": len(checked["anomalies"])})
    print(anomalies.table(checked["anomalies"]))
