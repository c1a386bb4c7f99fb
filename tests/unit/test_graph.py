"""The task-graph picture: statuses, durations, call traces, and no `dot`."""

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from tft_build.report import graph

INFOS = [
    {"name": "make", "doc": "makes", "file_dep": ["/p/data/in.csv"], "targets": ["/p/artifacts/out.json"]},
    {"name": "use", "doc": "uses", "file_dep": ["/p/artifacts/out.json"], "targets": []},
]


def svg_words(dot):
    root = ET.fromstring(graph.svg_of(dot))
    return " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))


def test_statuses_durations_and_links():
    status = {"make": {"status": "ran", "seconds": 2.5}, "use": {"status": "failed", "seconds": 0.1}}
    text = svg_words(graph.task_graph(INFOS, status, "/p"))
    assert "ran 2.5 s" in text and "failed 0.1 s" in text
    assert "data/in.csv" in text and "artifacts/out.json" in text


def test_never_run_and_up_to_date():
    text = svg_words(graph.task_graph(INFOS, {"make": {"status": "up to date", "seconds": 4.0}}, "/p"))
    assert "(last ran 4.0 s)" in text
    assert text.count("never run") == 2  # the task "use" and the legend


def test_call_traces_are_nested_with_numbered_edges():
    calls = [
        {"order": 1, "caller": "make", "called": "make", "depth": 0, "elapsed_time": 1.0},
        {"order": 2, "caller": "make", "called": "helper", "depth": 1, "elapsed_time": 0.5},
    ]
    dot = graph.task_graph(INFOS, {}, "/p", traces={"make": calls})
    assert "cluster_make" in dot.source
    assert 'make -> "make/make"' in dot.source and '"make/make" -> "make/helper"' in dot.source
    text = svg_words(dot)
    assert "1: 1.00 s" in text and "2: 0.50 s" in text and "helper" in text


def test_without_dot_the_source_is_written_with_a_hint(tmp_path):
    code = (
        "import sys\n"
        "from tft_build.report import graph\n"
        f"dot = graph.task_graph({INFOS!r}, {{}}, '/p')\n"
        "print(graph.write_picture(dot, sys.argv[1]))\n"
        "print(graph.svg_of(dot))\n"
    )
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "g.svg")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "g.dot"), "None"]
    assert "apt-get install graphviz" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
