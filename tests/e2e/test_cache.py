"""The build cache: a state built before is restored, not rebuilt; a copied, moved or cloned
project keeps its builds; a damaged cache entry is found and rebuilt, never used.

One small project is built at ``nbuckets = 10`` (state A) and at 8 (state B);
the tests then go back and forth in order, as a user exploring would.
"""

import hashlib
import json
import re
import subprocess

import pytest
from support import REFERENCE_TASK, SMALL_CONFIG, Project, make_project

MODEL = "train_and_predict_non_embedding_model"
CHAIN = ("transform_raw_data", "train_non_embedding_model", REFERENCE_TASK, MODEL)
OUTPUTS = ("transformed", "models/non_embedding", "reference", "serving/non_embedding",
           "predictions/non_embedding.csv", "metrics/non_embedding.json")
STATUS = re.compile(r"^(\w+)\s+(ran|restored|up to date|failed)\s", re.M)


def set_nbuckets(project, nbuckets):
    """Write the project's config with ``nbuckets`` (10 is the default)."""
    extra = f"nbuckets = {nbuckets}\n" if nbuckets != 10 else ""
    config = SMALL_CONFIG.replace("[tool.tft_build]\n", f"[tool.tft_build]\n{extra}")
    (project.root / "pyproject.toml").write_text(config)


def statuses(out):
    """``{task: status}`` from the timing table doit prints after a run."""
    return dict(STATUS.findall(out))


def output_digests(project):
    """The sha256 of every file the chain's tasks write, by path under the artifacts dir."""
    digests = {}
    for name in OUTPUTS:
        path = project.artifacts / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digests[str(file.relative_to(project.artifacts))] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digests


def entries(project, task):
    """The cache entries of ``task`` in the project's cache."""
    found = [json.loads(p.read_text()) for p in project.cache.glob("tft_build/v1/entries/*/*.json")]
    return [entry for entry in found if entry["task"] == task]


@pytest.fixture(scope="module")
def explored(tmp_path_factory):
    """The project after a build of state A, then of state B; ``.first`` holds A's output digests.

    It is a git repository (data and code committed, artifacts ignored), for the clone test.
    """
    project = make_project(tmp_path_factory.mktemp("cache") / "project", train_rows=300, eval_rows=80)
    (project.root / ".gitignore").write_text("artifacts/\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(project.root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "project"], check=True)
    assert set(statuses(project.doit(MODEL).stdout).values()) == {"ran"}
    project.first = output_digests(project)
    set_nbuckets(project, 8)
    assert statuses(project.doit(MODEL).stdout) == dict.fromkeys(CHAIN, "ran")
    return project


def test_a_setting_changed_back_is_restored_byte_for_byte(explored):
    set_nbuckets(explored, 10)
    explain = explored.doit("explain", MODEL).stdout
    assert "will restore from cache: transform_raw_data\n  - setting nbuckets: 8 -> 10" in explain
    for task in CHAIN[1:]:
        assert f"will restore from cache: {task}" in explain
    out = explored.doit(MODEL, script=True).stdout
    assert statuses(out) == dict.fromkeys(CHAIN, "restored")
    assert output_digests(explored) == explored.first
    assert statuses(explored.doit(MODEL).stdout) == dict.fromkeys(CHAIN, "up to date")


def test_a_copied_project_is_up_to_date_without_any_cache(explored, tmp_path):
    copy = Project(tmp_path / "copy")
    subprocess.run(["cp", "-a", str(explored.root), str(copy.root)], check=True)
    explain = copy.doit("explain", MODEL).stdout
    assert sorted(explain.splitlines()) == sorted(f"up to date: {task}" for task in CHAIN)  # the two branches
    # (the model's and the reference's) come in either order
    assert statuses(copy.doit(MODEL, script=True).stdout) == dict.fromkeys(CHAIN, "up to date")
    assert not copy.cache.exists(), "up to date by its record, not restored"


def test_a_git_clone_with_the_same_cache_restores_everything(explored, tmp_path):
    clone = Project(tmp_path / "clone")
    subprocess.run(["git", "clone", "-q", str(explored.root), str(clone.root)], check=True)
    out = clone.doit(MODEL, env={"XDG_CACHE_HOME": str(explored.cache)}).stdout
    assert statuses(out) == dict.fromkeys(CHAIN, "restored"), out
    assert output_digests(clone) == explored.first


def test_a_corrupted_cached_file_is_found_and_rebuilt(explored):
    """An object of state B's transform that state A does not share is cut short in the cache."""
    # state A's build is stored twice: under its inputs without the schema file and with the one it seeded
    by_nbuckets = {e["inputs"]["settings"]["nbuckets"]: e for e in entries(explored, "transform_raw_data")}
    a_entry, b_entry = by_nbuckets[10], by_nbuckets[8]
    shas = lambda entry: {f["sha256"] for out in entry["outputs"].values() for f in out["files"].values()}  # noqa: E731
    victim = max(shas(b_entry) - shas(a_entry))
    path = explored.cache / "tft_build" / "v1" / "objects" / victim[:2] / victim
    path.chmod(0o644)
    path.write_bytes(path.read_bytes()[:-10])
    set_nbuckets(explored, 8)
    done = explored.doit(MODEL)
    assert f"object {victim[:12]} holds other bytes" in done.stderr
    assert "removed it, running the task instead" in done.stderr
    assert statuses(done.stdout) == {"transform_raw_data": "ran", **dict.fromkeys(CHAIN[1:], "restored")}
    assert "all whole" in explored.doit("cache", "verify").stdout


def test_a_build_whose_input_changed_while_it_ran_is_not_stored(explored, tmp_path):
    """The helper module is edited by the user's code while the transform runs (the test hook of support.py):
    the task fails, and the cache holds no build under the key of the inputs it started from."""
    helpers = explored.root / "my_helpers.py"
    source = helpers.read_text()
    before = len(entries(explored, "transform_raw_data"))
    set_nbuckets(explored, 9)  # a state never built: the transform runs
    edit = {"point": "preprocessing_fn", "path": str(helpers), "old": "hour >= 16", "new": "hour >= 15",
            "marker": str(tmp_path / "edited")}
    done = explored.doit(MODEL, check=False, script=True, env={"TFT_TEST_EDIT": json.dumps(edit)})
    assert done.returncode != 0 and "module my_helpers changed while it ran" in done.stdout + done.stderr
    assert len(entries(explored, "transform_raw_data")) == before
    helpers.write_text(source)
    set_nbuckets(explored, 8)


def test_cache_status_gc_clean_and_clear(explored):
    status = explored.doit("cache", "status").stdout
    assert f"build cache: {explored.cache / 'tft_build'}" in status
    # 4 tasks, 2 states; state A's transform twice, without and with the schema file it seeded
    assert re.search(r"^builds: 9$", status, re.M), status
    assert re.search(r"this project's runs: \d+ task\(s\) restored, \d+ ran", status)
    explored.doit("cache", "gc", "--max-size", "2MB")
    objects = explored.cache.glob("tft_build/v1/objects/*/*")
    assert sum(p.stat().st_size for p in objects) <= 2_000_000
    assert "is kept; `doit cache clear` empties it" in explored.doit("clean").stdout
    assert "removed" in explored.doit("cache", "clear").stdout
    assert re.search(r"^builds: 0$", explored.doit("cache", "status").stdout, re.M)
    assert statuses(explored.doit(MODEL).stdout) == dict.fromkeys(CHAIN, "ran")
