"""Run records: history, last status, the timing table and its slowdown flag."""

import json

from tft_build.report import history, timings
from tft_build.report.reporter import record_run


def test_record_run_appends_history_and_compares_with_the_previous_run(tmp_path):
    record_run(tmp_path, "r1", {"a": ("ran", 10.0), "b": ("ran", 2.0)})
    rows = record_run(tmp_path, "r2", {"a": ("ran", 13.0), "b": ("up to date", None)})
    by_task = {row["task"]: row for row in rows}
    assert by_task["a"]["previous"] == 10.0 and by_task["a"]["change"] == "+30% slower"
    assert by_task["b"]["change"] == "" and by_task["b"]["previous"] is None
    rows = record_run(tmp_path, "r3", {"a": ("ran", 11.0)})
    assert rows[0]["change"] == "-15%"
    assert len(history.read_history(tmp_path)) == 5
    status = history.read_status(tmp_path)
    assert status["a"]["seconds"] == 11.0
    assert status["b"] == {"run": "r2", "seconds": 2.0, "status": "up to date", "task": "b"}


def test_the_tasks_whose_last_run_failed_are_known_until_they_run_again(tmp_path):
    record_run(tmp_path, "r1", {"a": ("ran", 6.0), "b": (history.FAILED, 1.0), "c": (history.FAILED, 3.0)})
    record_run(tmp_path, "r2", {"c": ("ran", 2.0)})
    assert history.last_failed(tmp_path) == {"b"}
    assert history.last_failed(tmp_path / "never built") == set()


def test_the_scheduler_gets_each_task_last_run_seconds_not_a_restore(tmp_path):
    record_run(tmp_path, "r1", {"a": ("ran", 6.0), "b": ("ran", 1.0), "c": ("ran", 3.0)})
    record_run(tmp_path, "r2", {"a": ("up to date", None), "b": ("ran", 2.0), "c": (history.RESTORED, 0.05)})
    assert history.last_seconds(tmp_path) == {"a": 6.0, "b": 2.0}
    assert history.last_seconds(tmp_path / "never built") == {}
    history.status_path(tmp_path).write_text("[]")  # damaged: every doit reads it before running
    assert history.last_seconds(tmp_path) == {}


def test_the_scheduler_gets_a_steps_own_seconds_from_its_trace(tmp_path):
    # A cold worker's first task is timed with loading the libraries; its trace times the step alone.
    record_run(tmp_path, "r1", {"a": ("ran", 6.0), "b": ("ran", 5.0), "c": ("ran", 3.0), "d": ("ran", 2.0)})
    (tmp_path / "traces").mkdir()
    calls = [{"called": "fit", "depth": 0, "elapsed_time": 0.5}, {"called": "read", "depth": 1, "elapsed_time": 0.2},
             {"called": "save", "depth": 0, "elapsed_time": 0.25}]
    (tmp_path / "traces" / "a.json").write_text(json.dumps({"task": "a", "run": "r1", "calls": calls}))
    (tmp_path / "traces" / "b.json").write_text(json.dumps({"task": "b", "run": "r1", "calls": []}))
    (tmp_path / "traces" / "c.json").write_text('{"calls": [{"depth": 0}]}')  # damaged: doit's seconds
    assert history.last_seconds(tmp_path) == {"a": 0.75, "b": 5.0, "c": 3.0, "d": 2.0}


def test_table_shows_each_task_once(tmp_path):
    rows = record_run(tmp_path, "r1", {"a": ("ran", 1.5), "b": ("failed", 0.25)})
    table = timings.timing_table(rows).splitlines()
    assert table[0].split() == ["task", "status", "seconds", "previous", "change"]
    assert table[2].split() == ["a", "ran", "1.50"] and table[3].split() == ["b", "failed", "0.25"]


def test_a_cut_history_line_is_skipped(tmp_path):
    record_run(tmp_path, "r1", {"a": ("ran", 1.0)})
    with open(tmp_path / "reports" / "runs.jsonl", "a") as f:
        f.write('{"run": "r2", "task"')
    assert [h["run"] for h in history.read_history(tmp_path)] == ["r1"]
    assert history.read_history_lines(tmp_path)[1] == 1


def test_forget_status_makes_a_task_never_run(tmp_path):
    record_run(tmp_path, "r1", {"a": ("ran", 1.0), "b": ("ran", 1.0)})
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "a.json").write_text(json.dumps({"calls": []}))
    history.forget_status(tmp_path, "a")
    assert set(history.read_status(tmp_path)) == {"b"}
    assert not (tmp_path / "traces" / "a.json").exists()


def test_calls_table_orders_by_start():
    traces = {"t": [
        {"caller": "t", "called": "late", "start": 2.0, "elapsed_time": 0.5},
        {"caller": "t", "called": "early", "start": 1.0, "elapsed_time": 1.25},
    ]}
    lines = timings.calls_table(traces).splitlines()
    assert lines[0].split() == ["task", "caller", "called", "elapsed_time"]
    assert lines[2].split() == ["t", "t", "early", "1.250"]


def test_each_reporter_line_is_flushed_as_it_is_written():
    """Side by side, workers write to the same output: a `.  task` line left in the doit process's
    buffer would come out after what the task printed, or inside one of its lines."""
    import io

    from doit.task import Task

    from tft_build.report.reporter import RunReporter

    class Pipe(io.StringIO):
        flushed = ""

        def flush(self):
            self.flushed = self.getvalue()

    out = Pipe()
    reporter = RunReporter(out, {})
    reporter.execute_task(Task("train_m_model", ["true"]))
    assert out.flushed == ".  train_m_model\n"
