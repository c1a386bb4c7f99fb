"""Call tracing: callers from the context stack, order, errors, and off by default."""

import json

import pytest

from tft_build.engine import trace


@trace.traced
def leaf(x):
    return x + 1


@trace.traced
def middle(x):
    return leaf(x) + leaf(x)


@trace.traced
def failing():
    leaf(0)
    raise ValueError("boom")


def test_nothing_is_recorded_outside_a_recording():
    with trace.recording("task") as outer:
        pass
    assert middle(1) == 4
    assert outer.calls == []


def test_callers_order_and_depth(tmp_path):
    trace_file = tmp_path / "traces" / "task.json"
    with trace.recording("task", trace_file, run="r1"):
        middle(1)
        leaf(5)
    calls = json.loads(trace_file.read_text())
    assert calls["task"] == "task" and calls["run"] == "r1"
    got = [(c["order"], c["caller"], c["called"], c["depth"]) for c in calls["calls"]]
    assert got == [
        (1, "task", "middle", 0),
        (2, "middle", "leaf", 1),
        (3, "middle", "leaf", 1),
        (4, "task", "leaf", 0),
    ]
    starts = [c["start"] for c in calls["calls"]]
    assert starts == sorted(starts)
    assert all(c["elapsed_time"] >= 0 for c in calls["calls"])
    assert calls["calls"][0]["elapsed_time"] >= calls["calls"][1]["elapsed_time"]


def test_an_exception_is_recorded_and_the_stack_unwinds(tmp_path):
    trace_file = tmp_path / "t.json"
    with pytest.raises(ValueError):
        with trace.recording("task", trace_file):
            failing()
    calls = json.loads(trace_file.read_text())["calls"]
    assert [(c["called"], c["error"]) for c in calls] == [("failing", "ValueError"), ("leaf", None)]
    with trace.recording("next") as recorder:
        leaf(1)
    assert recorder.calls[0]["caller"] == "next"  # the failed call left nothing on the stack


def test_traced_keeps_the_function_identity():
    assert leaf.__name__ == "leaf" and leaf.__wrapped__(1) == 2
