"""The task-graph picture, drawn with graphviz (``doit graph`` and the HTML report).

Tasks are boxes coloured by what happened in their last run (ran, up to date,
failed, never run) and labelled with its duration; the data files they read
are notes; an edge from one task to another is labelled with the files that
link them. Optionally each task holds, as a nested cluster, the call trace of
its last run with numbered edges, like the seed's picture.

Rendering needs graphviz's ``dot``; without it the ``.dot`` source is written
instead, with a one-line hint on how to install it.
"""

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import graphviz
from doit.task import Task

from tft_build.display import shown
from tft_build.report.history import FAILED, NEVER_RUN, RESTORED, UP_TO_DATE

COLOURS = {
    "ran": "#b7e4c7", RESTORED: "#d8f3dc", UP_TO_DATE: "#dbe9f6", FAILED: "#f4a6a6", NEVER_RUN: "#ffffff",
}
FORMATS = ("svg", "png", "dot")
DOT_HINT = "graphviz's `dot` is not installed (apt-get install graphviz); wrote the .dot source instead"


def task_infos(tasks: Iterable[Task]) -> list[dict[str, Any]]:
    """What the picture needs of doit's tasks: names, docs, files, deps."""
    return [
        {
            "name": t.name,
            "doc": t.doc or "",
            "file_dep": sorted(t.file_dep),
            "targets": list(t.targets),
        }
        for t in tasks
        if not t.name.startswith("_")
    ]


def task_graph(
    infos: Sequence[Mapping[str, Any]],
    status: Mapping[str, Mapping[str, Any]],
    project_dir: str | Path,
    traces: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of the tasks, their data files and (optionally) their call traces."""
    dot = graphviz.Digraph("tasks", graph_attr={"rankdir": "LR", "fontname": "Helvetica", "compound": "true"})
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", fontname="Helvetica", fontsize="9")
    producers = {target: info["name"] for info in infos for target in info["targets"]}
    add_legend(dot)
    for info in infos:
        add_task(dot, info, status.get(info["name"]), (traces or {}).get(info["name"]))
    links = {}
    for info in infos:
        for dep in info["file_dep"]:
            if dep in producers:
                links.setdefault((producers[dep], info["name"]), []).append(shown(dep, project_dir))
            else:
                dot.node(f"file {dep}", shown(dep, project_dir), shape="note", style="filled", fillcolor="#fff8dc")
                dot.edge(f"file {dep}", info["name"])
    for (producer, consumer), files in sorted(links.items()):
        dot.edge(producer, consumer, label="\n".join(files))
    return dot


def add_task(
    dot: graphviz.Digraph,
    info: Mapping[str, Any],
    last: Mapping[str, Any] | None,
    calls: Iterable[Mapping[str, Any]] | None,
) -> None:
    """A task box, or a cluster holding the box and its last call trace."""
    state = last["status"] if last else NEVER_RUN
    label = f"{info['name']}\n{state}"
    if last and last.get("seconds") is not None:
        label += f" {last['seconds']:.1f} s" if state != UP_TO_DATE else f"\n(last ran {last['seconds']:.1f} s)"
    box = {"shape": "box", "style": "filled,rounded" + (",dashed" if state == NEVER_RUN else ""),
           "fillcolor": COLOURS[state], "tooltip": info["doc"]}
    if calls is None:
        dot.node(info["name"], label, **box)
        return
    with dot.subgraph(name=f"cluster_{info['name']}") as cluster:
        cluster.attr(label=info["name"], style="rounded", color="#999999")
        cluster.node(info["name"], label, **box)
        for call in calls:
            called = f"{info['name']}/{call['called']}"
            caller = info["name"] if call.get("depth") == 0 else f"{info['name']}/{call['caller']}"
            cluster.node(called, call["called"], shape="ellipse", style="filled",
                         fillcolor="#f4a6a6" if call.get("error") else "#f0f0f0")
            cluster.edge(caller, called, label=f"{call['order']}: {call['elapsed_time']:.2f} s", color="#666666")


def add_legend(dot: graphviz.Digraph) -> None:
    """The legend: a box of the statuses of a last run, each in its colour."""
    with dot.subgraph(name="cluster_legend") as box:
        box.attr(label="last run", style="rounded", color="#cccccc", fontsize="10")
        for state, colour in COLOURS.items():
            box.node(f"legend {state}", state, shape="box", style="filled,rounded", fillcolor=colour, fontsize="9")


def svg_of(dot: graphviz.Digraph) -> str | None:
    """The picture as SVG text, or None without graphviz's ``dot``."""
    try:
        return dot.pipe(format="svg").decode("utf-8")
    except graphviz.ExecutableNotFound:
        return None


def write_picture(dot: graphviz.Digraph, path: str | Path, fmt: str | None = None) -> Path:
    """Write the picture to ``path`` in ``fmt`` (from the suffix by default); the path written."""
    path = Path(path)
    fmt = fmt or (path.suffix[1:] if path.suffix[1:] in FORMATS else "svg")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt != "dot":
        try:
            path.write_bytes(dot.pipe(format=fmt))
            return path
        except graphviz.ExecutableNotFound:
            path = path.with_suffix(".dot")
            sys.stderr.write(f"{DOT_HINT}: {path}\n")
    path.write_text(dot.source, encoding="utf-8")
    return path
