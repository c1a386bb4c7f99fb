"""The HTML report: one self-contained page about the pipeline and its runs.

``<artifacts>/reports/index.html`` shows the task graph, the timings of the
last run and of the runs before it, each task's call trace, the models'
metrics (beside the reference model's, the baseline and the noise floor) and their sliced metrics,
the builds in the build cache side by side (as ``doit compare`` shows them),
training curves, the data's statistics and anomalies (:mod:`tft_build.report.data_section`),
and sample rows raw and transformed. It is
written by the doit process after every run, so it only reads small JSON
files and imports nothing heavy (no TensorFlow), and it opens anywhere without
a network: the CSS is inline, the graph is graphviz's SVG inlined, and the
charts are SVG drawn by :mod:`tft_build.report.charts`. A missing or
malformed file costs its section a one-line note, never the report.

This module is the page and its sections; the HTML it is written with is
:mod:`tft_build.report.htmlkit`.
"""

import datetime
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tft_build import layout
from tft_build.config.settings import Config
from tft_build.io.atomic import write_file_atomic
from tft_build.report import compare, history
from tft_build.report.charts import bar_chart, line_chart
from tft_build.report.data_section import data_section
from tft_build.report.htmlkit import MALFORMED, esc, fmt, is_number, note, table, tag, unique

TITLE = "tft_build report"
TIMING_COLUMNS = ("task", "status", "seconds", "previous", "change")
TRACE_COLUMNS = ("order", "caller", "called", "start", "elapsed_time")
HISTORY_RUNS = 10  # runs shown in the history table
LOSS_SERIES = ("loss", "val_loss")  # the curves drawn per model
# Told above each curve; val_ figures are on the validation rows, held out from the training rows.
HISTORY_FACTS = (
    "best_epoch", "epochs_run", "train_rmse", "val_rmse", "train_accuracy", "val_accuracy", "train_rows",
    "validation_rows",
)
# The bars drawn per model: its quality against the references, for each objective.
BAR_CHARTS = (
    (("rmse", "reference_rmse", "baseline_rmse", "noise_floor_rmse"),
     "rmse against the reference model, the baseline and the noise floor (lower is better)"),
    (("accuracy", "reference_accuracy", "baseline_accuracy"),
     "accuracy against the reference model and the majority-class baseline (higher is better)"),
)
REFERENCE_NOTE = (  # under the models' table when it shows reference_ figures
    "reference_: the reference model, scikit-learn's gradient-boosted trees fitted on the same transformed "
    "features and training rows and scored on the same eval rows (artifacts/reference/metrics.json). "
    "A network that does not beat it does not earn its keep; baseline_ is the floor any model must clear."
)
# Which rows each figure of a metrics file is on.
SETS_CAPTION = (
    "train_: the training rows each model was fit on; validation_: training rows held out, which chose its "
    "epochs and learning rate; every other figure: the eval rows (count), which only measure"
)
# The sliced metrics: how to read their bars, and the most slices of a column drawn (the metrics files have all).
SLICES_CAPTION = (
    "each metric on the eval rows of each slice of a column the setting slices names: a float column in buckets "
    "at quantiles of its eval values, [low, high), any other by its values; beside each slice its rows"
)
NO_SLICES = "no slices: name columns in the setting <code>slices</code> to see each metric per slice"
CHART_SLICES = 24
SLICE_CHART_WIDTH = 500  # two side by side: a column's metrics
NOTHING_YET = "nothing yet: run <code>doit</code>"
NO_DOT = "install graphviz's dot to see the picture (<code>apt-get install graphviz</code>)"

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 64rem; }
h1 { font-size: 1.6rem; margin-bottom: 0; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: .2rem; margin-top: 2.2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
.meta, .note, caption { color: #666; }
.note { font-style: italic; }
nav ol { columns: 2; padding-left: 1.4rem; }
code { background: #f3f3f3; padding: 0 .2rem; border-radius: 3px; }
.scroll { overflow-x: auto; margin: .4rem 0 1rem; }
table { border-collapse: collapse; font-size: .9rem; }
caption { text-align: left; padding-bottom: .2rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
tbody tr:nth-child(even) { background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.slower, tr.slower:nth-child(even) { background: #fde2c4; }
tr.failed, tr.failed:nth-child(even) { background: #f4a6a6; }
.graph svg, svg.chart { max-width: 100%; height: auto; }
svg.chart text { font-size: 12px; font-family: system-ui, sans-serif; fill: #333; }
svg.chart .grid { stroke: #e4e4e4; }
svg.chart .axis { stroke: #888; }
.charts { display: flex; flex-wrap: wrap; column-gap: 1rem; }
"""


def write_report(
    artifacts_dir: str | Path,
    graph_svg: str | None,
    timing_rows: Sequence[Mapping[str, Any]],
    cfg: Config | None = None,
) -> Path:
    """Write ``<artifacts_dir>/reports/index.html`` (atomically); returns its path."""
    path = history.report_path(artifacts_dir)
    write_file_atomic(path, render_page(artifacts_dir, graph_svg, timing_rows, cfg))
    return path


def render_page(
    artifacts_dir: str | Path,
    graph_svg: str | None,
    timing_rows: Sequence[Mapping[str, Any]],
    cfg: Config | None = None,
) -> str:
    """The report's HTML text: a header, a table of contents and the sections.

    With the project's ``cfg``, the builds in its build cache are a section too.
    """
    artifacts = Path(artifacts_dir)
    sections = [
        ("graph", "Task graph", graph_section(graph_svg)),
        ("timings", "Timings", timings_section(timing_rows, artifacts)),
        ("traces", "Call traces", file_section(matching(artifacts, *layout.trace_file("*")), read_trace_rows,
                                               render_traces)),
        ("models", "Models", file_section(matching(artifacts, *layout.metrics_file("*")), read_metric_numbers,
                                          render_models)),
        ("slices", "Sliced metrics", file_section(matching(artifacts, *layout.metrics_file("*")), read_slices,
                                                  render_slices)),
        *([("builds", "Builds in the cache", builds_section(cfg))] if cfg else []),
        ("curves", "Training curves", file_section(matching(artifacts, layout.MODELS, "*", layout.HISTORY_FILE),
                                                   read_training_curves, render_curves)),
        ("data", "Data", data_section(artifacts)),
        ("sample", "Sample rows", file_section(matching(artifacts, layout.TRANSFORMED, layout.SAMPLE_FILE),
                                               read_sample, render_sample)),
    ]
    written = datetime.datetime.now().isoformat(sep=" ", timespec="seconds")
    head = (
        '<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        + tag("title", TITLE)
        + tag("style", CSS)
    )
    links = "".join(tag("li", tag("a", esc(title), href=f"#{key}")) for key, title, _ in sections)
    body = (
        tag("h1", TITLE)
        + tag("p", esc(f"{artifacts.resolve()}, written {written}"), class_="meta")
        + tag("nav", tag("ol", links))
        + "".join(tag("section", tag("h2", esc(title)) + content, id=key) for key, title, content in sections)
    )
    return "<!DOCTYPE html>\n" + tag("html", tag("head", head) + tag("body", body), lang="en") + "\n"


def graph_section(graph_svg: str | None) -> str:
    """graphviz's SVG inlined (what precedes ``<svg``, the XML prolog, cannot be)."""
    start = graph_svg.find("<svg") if graph_svg else -1
    if start < 0:
        return note(NO_DOT)
    return tag("div", graph_svg[start:], class_="graph")


def timings_section(timing_rows: Sequence[Mapping[str, Any]], artifacts_dir: str | Path) -> str:
    """This run's timing table, then the seconds of each task in the runs before."""
    this_run = note(NOTHING_YET)
    if timing_rows:
        this_run = table(
            TIMING_COLUMNS,
            [[r.get(k) for k in TIMING_COLUMNS] for r in timing_rows],
            row_classes=[row_class(r) for r in timing_rows],
        )
    before = history_table(*history.read_history_lines(artifacts_dir))
    return tag("h3", "This run") + this_run + tag("h3", "History") + before


def row_class(timing_row: Mapping[str, Any]) -> str:
    """The CSS class that makes a failed or a slower task stand out."""
    if timing_row.get("status") == "failed":
        return "failed"
    return "slower" if "slower" in (timing_row.get("change") or "") else ""


def history_table(records: Iterable[Mapping[str, Any]], skipped: int) -> str:
    """The last runs, newest first, with the seconds of each task that ran.

    ``records`` and ``skipped`` are :func:`tft_build.report.history.read_history_lines`'s:
    the lines of the history that were not a record (cut short by a killed run) are a note.
    """
    runs = {}
    for record in records:
        run = runs.setdefault(str(record["run"]), {})
        if record.get("status") == "ran":
            run[str(record["task"])] = record.get("seconds")
    notes = note(f"skipped {skipped} malformed line(s) of {esc(layout.RUNS_FILE)}") if skipped else ""
    if not runs:
        return notes + note(NOTHING_YET)
    shown = list(runs.items())[-HISTORY_RUNS:][::-1]
    # Columns in the order the tasks first ran (the pipeline's order), for those that ran in the shown runs.
    tasks = [t for t in unique(t for seconds in runs.values() for t in seconds) if any(t in s for _, s in shown)]
    rows = [[run] + [seconds.get(task) for task in tasks] for run, seconds in shown]
    caption = f"seconds of the tasks that ran, last {len(shown)} runs, newest first"
    return notes + table(["run", *tasks], rows, caption=caption)


def matching(artifacts_dir: str | Path, *parts: str) -> Iterator[Path]:
    """The files under ``artifacts_dir`` at the path ``parts``, whose parts may be glob patterns."""
    return Path(artifacts_dir).glob("/".join(parts))


def file_section(
    paths: Iterable[Path], read: Callable[[Any], Any], render: Callable[[list[tuple[Path, Any]]], str]
) -> str:
    """A section made of JSON files: ``render`` of what ``read`` made of them.

    Each file that cannot be read becomes a one-line note; with no file at
    all, the section says so.
    """
    loaded, notes = [], []
    for path in sorted(paths):
        try:
            loaded.append((path, read(json.loads(path.read_text(encoding="utf-8")))))
        except MALFORMED as error:
            name = "/".join(path.parts[-2:])
            notes.append(note(f"skipped {esc(name)}, malformed: {esc(type(error).__name__)} {esc(str(error))}"))
    if not loaded and not notes:
        return note(NOTHING_YET)
    return "".join(notes) + (render(loaded) if loaded else "")


def read_trace_rows(data: Any) -> dict[str, Any]:
    """A trace file's task, run and calls (as table rows), checked."""
    calls = [[c[k] for k in TRACE_COLUMNS] + [c.get("error")] for c in data["calls"]]
    return {"task": str(data["task"]), "run": str(data.get("run", "")), "calls": calls}


def render_traces(loaded: Iterable[tuple[Path, Mapping[str, Any]]]) -> str:
    """One table per task: the functions it called, in order, with their times."""
    parts = []
    for _, trace in loaded:
        calls, failed = trace["calls"], [call[-1] is not None for call in trace["calls"]]
        headers = [*TRACE_COLUMNS, "error"] if any(failed) else list(TRACE_COLUMNS)
        rows = [call[: len(headers)] for call in calls]
        caption = "seconds; start counts from the task's start" + (f", run {trace['run']}" if trace["run"] else "")
        traced = table(headers, rows, row_classes=["failed" if f else "" for f in failed], caption=caption)
        parts.append(tag("h3", esc(trace["task"])) + (traced if calls else note("no traced calls")))
    return "".join(parts)


def read_metric_numbers(data: Any) -> dict[str, float | None]:
    """A metrics file's numeric values (null counts as a missing number)."""
    return {str(k): v for k, v in data.items() if v is None or is_number(v)}


def render_models(loaded: Iterable[tuple[Path, Mapping[str, float | None]]]) -> str:
    """A table with a row per model, and bar charts of its quality against the references."""
    models = {path.stem: metrics for path, metrics in loaded}
    found = unique(k for metrics in models.values() for k in metrics)
    keys = compare.metrics_first(found)
    rows = [[model] + [metrics.get(k) for k in keys] for model, metrics in models.items()]
    charts = []
    for series, title in BAR_CHARTS:
        bars = {model: {k: m[k] for k in series if drawable(m.get(k))}
                for model, m in models.items()}
        bars = {model: values for model, values in bars.items() if values}
        charts.append(bar_chart(bars, title=title) if bars else "")
    explained = tag("p", esc(REFERENCE_NOTE), class_="meta") if any(k.startswith("reference_") for k in keys) else ""
    return table(["model", *keys], rows, caption=SETS_CAPTION) + explained + "".join(charts)


def drawable(value: Any) -> bool:
    """Whether ``value`` is a number a bar can show (not missing, not nan or infinite)."""
    return is_number(value) and math.isfinite(value)


def read_slices(data: Any) -> dict[str, list[dict[str, Any]]]:
    """A metrics file's sliced metrics, ``{column: [{"slice": label, "count": rows, metric: value}]}``, checked;
    empty when it has none."""
    return {
        str(column): [{"slice": str(row["slice"]), "count": int(row["count"]),
                       **{str(k): v for k, v in row.items() if k not in ("slice", "count") and is_number(v)}}
                      for row in rows]
        for column, rows in data.get("slices", {}).items()
    }


def render_slices(loaded: Iterable[tuple[Path, Mapping[str, Sequence[Mapping[str, Any]]]]]) -> str:
    """Per slice column, a bar chart of each metric: a group of bars per slice (with its rows), a bar per model."""
    models = {path.stem: slices for path, slices in loaded if slices}
    if not models:
        return note(NO_SLICES)
    parts = [tag("p", esc(SLICES_CAPTION), class_="meta")]
    for column in unique(column for slices in models.values() for column in slices):
        by_model = {model: {row["slice"]: row for row in slices.get(column, ())} for model, slices in models.items()}
        labels = unique(label for rows in by_model.values() for label in rows)
        metrics = compare.metrics_first(unique(k for rows in by_model.values() for row in rows.values() for k in row
                                               if k not in ("slice", "count")))
        charts = [slice_chart(f"{metric} per slice of {column}", metric, by_model, labels[:CHART_SLICES])
                  for metric in metrics]
        more = len(labels) - CHART_SLICES
        parts.append(tag("h3", esc(column)) + tag("div", "".join(charts), class_="charts")
                     + (note(f"{more} more slices of {esc(column)} in the metrics files") if more > 0 else ""))
    return "".join(parts)


def slice_chart(
    title: str, metric: str, by_model: Mapping[str, Mapping[str, Mapping[str, Any]]], labels: Sequence[str]
) -> str:
    """Bars of ``metric``: for each slice label, ``label: N rows``, one bar per model that has it."""
    groups = {}
    for label in labels:
        rows = {model: slices[label] for model, slices in by_model.items() if label in slices}
        bars = {model: row[metric] for model, row in rows.items() if drawable(row.get(metric))}
        if bars:
            groups[f"{label}: {fmt(next(iter(rows.values()))['count'])} rows"] = bars
    return bar_chart(groups, title=title, width=SLICE_CHART_WIDTH) if groups else ""


def builds_section(cfg: Config) -> str:
    """Each model's builds in the build cache side by side, as ``doit compare`` shows them;
    a cache that cannot be read is a note."""
    try:
        tables, notes = compare.compare(cfg)
    except MALFORMED as error:
        return note(f"could not read the build cache: {esc(type(error).__name__)} {esc(str(error))}")
    caption = "newest first; (workspace): the build in the artifacts dir now; then the inputs that differ"
    return "".join(note(esc(line)) for line in notes) + "".join(
        tag("h3", esc(model)) + table(headers, rows, caption=caption) for model, headers, rows in tables
    )


def read_training_curves(data: Any) -> dict[str, Any]:
    """A training history's loss curves and its best epoch, checked."""
    logged = data["history"]  # Keras's History.history: a list of values per metric
    series = {k: [float(v) for v in logged[k]] for k in LOSS_SERIES if k in logged}
    if not series:
        raise KeyError(" or ".join(LOSS_SERIES))
    facts = {k: data.get(k) for k in HISTORY_FACTS}
    return {"series": series, **{k: v for k, v in facts.items() if is_number(v)}}


def render_curves(loaded: Iterable[tuple[Path, Mapping[str, Any]]]) -> str:
    """One line chart per model: loss per epoch, the best epoch marked."""
    parts = []
    for path, curves in loaded:
        model, best = path.parent.name, curves.get("best_epoch")
        facts = [(k.replace("_", " "), curves[k]) for k in HISTORY_FACTS if k in curves]
        summary = tag("p", esc(", ".join(f"{label} {fmt(v)}" for label, v in facts)), class_="meta")
        marker = (best, f"best epoch {fmt(best)}") if best is not None else None
        chart = line_chart(curves["series"], title=f"{model}: loss per epoch", y_label="loss", marker=marker)
        parts.append(tag("h3", esc(model)) + summary + chart)
    return "".join(parts)


def read_sample(data: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Sample rows as (raw, transformed) pairs of ``{name: value}``, checked."""
    return [(dict(row["raw"]), dict(row["transformed"])) for row in data["rows"]]


def render_sample(loaded: Sequence[tuple[Path, Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]]]) -> str:
    """Each sample row raw and transformed side by side, under a header group."""
    _, rows = loaded[0]
    if not rows:
        return note("the sample has no rows")
    raw = unique(name for r, _ in rows for name in r)
    transformed = unique(name for _, t in rows for name in t)
    return table(
        raw + transformed,
        [[r.get(n) for n in raw] + [t.get(n) for n in transformed] for r, t in rows],
        groups=[("raw", len(raw)), ("transformed", len(transformed))],
    )
