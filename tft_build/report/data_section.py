"""The report's data section: the anomalies, then each column's training and eval statistics.

Read from ``artifacts/stats`` (:mod:`tft_build.steps.datastats`): the
anomalies first, highlighted; a table of every column's figures in both
splits, an anomalous column's rows highlighted; then each number's training
and eval histograms overlaid on the same bins.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tft_build import layout
from tft_build.report.charts import histogram_chart
from tft_build.report.htmlkit import MALFORMED, esc, note, table, tag

SPLITS = ("train", "eval")
FIGURES = ("rows", "missing", "min", "median", "max", "distinct")  # per split, in the columns' table
NO_STATS = "no statistics yet: run <code>doit</code> (or the transform has <code>statistics = false</code>)"
CAPTION = (
    "each split's clean rows (after the row filter); missing: the share of missing values; min, median and max "
    "of a number (the median from a sample), first and last of a date or time; distinct: of text and integer codes"
)


def data_section(artifacts_dir: str | Path) -> str:
    """The section's HTML; a note when there are no statistics or they cannot be read."""
    folder = Path(artifacts_dir) / layout.STATS
    try:
        splits = {s: json.loads((folder / layout.stats_file(s)[1]).read_text(encoding="utf-8")) for s in SPLITS}
        found = json.loads((folder / layout.ANOMALIES_FILE).read_text(encoding="utf-8"))["anomalies"]
    except FileNotFoundError:
        return note(NO_STATS)
    except MALFORMED as error:
        return note(f"could not read {esc(layout.STATS)}/: {esc(type(error).__name__)} {esc(str(error))}")
    flagged = {a["column"] for a in found}
    return anomalies_table(found) + columns_table(splits, flagged) + histograms(splits, flagged)


def anomalies_table(found: list[Mapping[str, str]]) -> str:
    """The anomalies, each row highlighted, or a line saying the data fits its schema."""
    if not found:
        return tag("p", "No anomalies: the training and eval data fit the schema, and the eval data has not "
                        "drifted from the training data.")
    rows = [[a["split"], a["column"], a["check"], a["message"]] for a in found]
    return table(["split", "column", "check", "found"], rows, row_classes=["failed"] * len(rows),
                 caption=f"{len(rows)} anomalies (artifacts/stats/anomalies.json)")


def columns_table(splits: Mapping[str, Mapping[str, Any]], flagged: set[str]) -> str:
    """One row per column: its type, then its figures in each split."""
    names = list(splits["train"]["columns"])
    rows = [
        [name, splits["train"]["columns"][name]["type"],
         *(value for s in SPLITS for value in figures(splits[s]["columns"].get(name, {})))]
        for name in names
    ]
    return table(["column", "type", *(FIGURES * len(SPLITS))], rows,
                 row_classes=["failed" if n in flagged else "" for n in names],
                 groups=[("", 2), *((s, len(FIGURES)) for s in SPLITS)], caption=CAPTION)


def figures(column: Mapping[str, Any]) -> list[Any]:
    """A column's FIGURES in one split."""
    rows = column.get("count", 0) + column.get("missing", 0)
    missing = f"{column['missing_fraction']:.1%}" if "missing_fraction" in column else None
    low, high = column.get("min", column.get("first")), column.get("max", column.get("last"))
    return [rows, missing, low, column.get("quantiles", {}).get("0.5"), high, column.get("distinct")]


def histograms(splits: Mapping[str, Mapping[str, Any]], flagged: set[str]) -> str:
    """Each number's training and eval histograms, overlaid on the training data's bins."""
    charts = []
    for name, column in splits["train"]["columns"].items():
        if "histogram" not in column:
            continue
        edges = column["histogram"]["edges"]
        series = {s: splits[s]["columns"][name]["histogram"]["fractions"] for s in SPLITS
                  if "histogram" in splits[s]["columns"].get(name, {})}
        title = f"{name}{' (anomalies above)' if name in flagged else ''}: share of the rows per bin"
        charts.append(histogram_chart(edges, series, title=title, width=480))
    return tag("h3", "Histograms") + tag("div", "".join(charts), class_="charts") if charts else ""
