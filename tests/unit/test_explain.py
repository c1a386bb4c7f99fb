"""What ``doit explain`` says, from real doit tasks and a real doit database, without the CLI."""

import pytest
from doit.control import TaskControl
from doit.dependency import Dependency, JsonDB, MD5Checker
from doit.task import Task

from tft_build.engine.explain import dependency_order, explain, status_reasons


def pipeline():
    """Two tasks: ``make`` reads in.txt and writes out.txt, which ``use`` reads."""
    tasks = [
        Task("make", [lambda: None], file_dep=["in.txt"], targets=["out.txt"]),
        Task("use", [lambda: None], file_dep=["out.txt"], targets=["final.txt"]),
    ]
    return TaskControl(tasks).tasks


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A dir with in.txt, where the tasks run; the doit database that records them."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("a")
    return Dependency(JsonDB, str(tmp_path / "db.json"), checker_cls=MD5Checker)


def built(dep_manager):
    """Make the tasks' targets and record both tasks as done."""
    for name in ("out.txt", "final.txt"):
        with open(name, "w") as f:
            f.write(name)
    for task in pipeline().values():
        dep_manager.save_success(task)


def test_nothing_built_yet_says_what_is_missing(project):
    assert explain(pipeline(), project, ["use"]) == {
        "make": ("will run", ["target missing: out.txt", "file changed: in.txt"]),
        "use": ("will run", ["target missing: final.txt", "input out.txt is not built yet (make makes it)"]),
    }


def test_after_a_build_everything_is_up_to_date(project):
    built(project)
    assert explain(pipeline(), project, ["use"]) == {"make": ("up to date", []), "use": ("up to date", [])}


def test_a_changed_input_reruns_its_task_and_may_rerun_the_next(project):
    built(project)
    with open("in.txt", "w") as f:
        f.write("b")
    verdicts = explain(pipeline(), project, ["use"])
    assert verdicts["make"] == ("will run", ["file changed: in.txt"])
    # whether `use` runs depends on whether out.txt really changes (early cutoff)
    assert verdicts["use"] == ("may run", ["if make changes out.txt"])


def test_dependencies_come_before_the_tasks_that_need_them():
    tasks = pipeline()
    assert dependency_order(tasks, ["use"]) == ["make", "use"]
    assert dependency_order(tasks, ["make"]) == ["make"]


def test_a_stored_check_tells_its_own_changes():
    class SettingsCheck:
        def changes(self, values):
            return [f"setting epochs: {values['epochs']} -> 5"]

    reasons = {"uptodate_false": [(SettingsCheck(), None, None), (False, None, None)],
               "missing_file_dep": ["/elsewhere/gone.csv"]}
    assert list(status_reasons(reasons, {"epochs": 4}, {})) == [
        "setting epochs: 4 -> 5",
        "runs every time (it only prints)",
        "input file missing: /elsewhere/gone.csv (the run will fail)",
    ]
