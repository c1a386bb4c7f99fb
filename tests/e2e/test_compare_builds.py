"""``doit compare`` after real builds: two builds of each model, the setting that differs."""

from support import SMALL_CONFIG, make_project


def test_compare_shows_two_builds_after_a_setting_changed(tmp_path):
    project = make_project(tmp_path / "compare")
    project.doit()
    (project.root / "pyproject.toml").write_text(SMALL_CONFIG.replace("[tool.tft_build]\n",
                                                                      "[tool.tft_build]\nnbuckets = 8\n", 1))
    project.doit()
    out = project.doit("compare").stdout
    for model in ("non_embedding", "embedding"):
        assert f"{model}: 2 build(s), newest first" in out
    nbuckets = [line.split() for line in out.splitlines() if line.startswith("setting nbuckets")]
    assert nbuckets == [["setting", "nbuckets", "8", "10"]] * 2
    marked = [line.split() for line in out.splitlines() if "(workspace)" in line]
    assert len(marked) == 2 and all(words[1] == "(workspace)" for words in marked)  # each model's newest build
    last = project.doit("compare", "--last", "1", "train_and_predict_embedding_model").stdout
    assert "\nembedding: 1 build(s)" in last and "non_embedding" not in last
    page = (project.artifacts / "reports" / "index.html").read_text()
    assert page.count('<td>setting nbuckets</td><td class="num">8</td><td class="num">10</td>') == 2
