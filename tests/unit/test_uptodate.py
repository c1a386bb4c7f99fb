"""The stored-input checks: compare, and say what changed."""

from tft_build.engine.uptodate import code_unchanged, settings_unchanged


def saved(check):
    """What a task's snapshot stores for ``check`` (see tft_build.engine.snapshot)."""
    return {check.key: check.fresh()}


def test_settings_compare_stored_values_and_name_the_change():
    before = saved(settings_unchanged({"nbuckets": 10, "columns": [["a", "float"]]}))
    same = settings_unchanged({"columns": [["a", "float"]], "nbuckets": 10})
    changed = settings_unchanged({"columns": [["a", "float"]], "nbuckets": 12})
    assert same(None, before) and same.changes(before) == []
    assert not changed(None, before)
    assert changed.changes(before) == ["setting nbuckets: 10 -> 12"]
    assert before["_settings"]["versions"]["tensorflow"]  # the TF version counts too


def test_never_built():
    check = settings_unchanged({"nbuckets": 10})
    assert not check(None, {})
    assert check.changes({}) == ["no record of its settings (never built)"]


def test_code_change_comes_with_a_diff(tmp_path):
    module = tmp_path / "user_code.py"
    module.write_text("def f(x):\n    return x + 1\n")
    before = saved(code_unchanged(["user_code:f"], [tmp_path]))
    module.write_text("# new comment\ndef f(x):\n    return x + 1\n")
    assert code_unchanged(["user_code:f"], [tmp_path])(None, before)
    module.write_text("def f(x):\n    return x + 2\n")
    check = code_unchanged(["user_code:f"], [tmp_path])
    assert not check(None, before)
    (change,) = check.changes(before)
    lines = change.splitlines()
    assert lines[0] == "code changed: user_code:f"
    assert "-    return x + 1" in lines and "+    return x + 2" in lines
