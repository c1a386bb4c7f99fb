"""A user's copy of the taxi example, for the benchmarks that edit its code."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TAXI_FN = 'preprocessing_fn = "tft_build.examples.taxi.preprocessing:preprocessing_fn"'
USER_FN = 'preprocessing_fn = "my_preprocessing:preprocessing_fn"'


def copy_example(project, root=ROOT):
    """``project``: the example's data, dodo.py and settings, with ``preprocessing_fn`` at a copy
    of the taxi preprocessing in ``my_preprocessing.py``; the path of that copy. All from the
    checkout ``root`` (another one's, to time the code before a change with its own example)."""
    root = Path(root)
    config = (root / "pyproject.toml").read_text()
    assert TAXI_FN in config, "the example's preprocessing_fn setting changed; update this benchmark"
    shutil.copytree(root / "data", project / "data")
    shutil.copy(root / "dodo.py", project / "dodo.py")
    module = project / "my_preprocessing.py"
    shutil.copy(root / "tft_build" / "examples" / "taxi" / "preprocessing.py", module)
    (project / "pyproject.toml").write_text(config.replace(TAXI_FN, USER_FN))
    return module
