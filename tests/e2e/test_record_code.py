"""The code that runs is the code that was fingerprinted.

The mutation matrix of the code inputs (see tests/e2e/matrix.py), then the ways
tft_build is installed and run: the `doit` console script and
`python -m doit`, with tft_build installed editable, from a wheel, and with
the project being another checkout of tft_build. Each must fingerprint the
tft_build it runs; these use `doit explain` only (no TensorFlow). A module
edited while an earlier task of the same run has it imported is in
test_pipeline (it needs two models).
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from matrix import PREDICT, matrix_tests
from support import DOIT_SCRIPT, ROOT

CODE_INPUTS = ["preprocessing module", "helper module", "model builder module"]
project, test_the_next_doit_reruns_exactly_what_it_must = matrix_tests(CODE_INPUTS)


EDIT = ("    tft_output = tft.TFTransformOutput(",
        "    TFT_BUILD_EDITED = True\n    tft_output = tft.TFTransformOutput(")


def explain(project, command):
    done = subprocess.run([*command, "explain", PREDICT], cwd=project.root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def up_to_date(text):
    return f"up to date: {PREDICT}" in text


def edit_step(package_dir):
    path = package_dir / "steps" / "serve.py"
    source = path.read_text()
    assert EDIT[0] in source
    path.write_text(source.replace(EDIT[0], EDIT[1], 1))


def test_editable_install_console_script_and_python_m_agree(project):
    assert up_to_date(explain(project, [str(DOIT_SCRIPT)]))
    assert up_to_date(explain(project, [sys.executable, "-m", "doit"]))


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory):
    """A venv (seeing the machine's packages) with tft_build installed from a wheel, not editable."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(where), str(ROOT)],
        check=True, capture_output=True,
    )
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    (wheel,) = where.glob("tft_build-*.whl")
    install = [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)]
    subprocess.run(install, check=True, capture_output=True)
    return python


def test_a_wheel_install_fingerprints_its_own_copy(project, wheel_python):
    installed = subprocess.run(
        [str(wheel_python), "-c", "import tft_build, os; print(os.path.dirname(tft_build.__file__))"],
        cwd=project.root, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert "venv" in installed
    command = [str(wheel_python), "-m", "doit"]
    assert up_to_date(explain(project, command)), "the wheel holds the same code as the checkout"
    edit_step(Path(installed))
    text = explain(project, command)
    assert f"will run: {PREDICT}" in text
    assert "code changed: tft_build.steps.serve:train_and_predict" in text and "+    TFT_BUILD_EDITED = True" in text
    assert up_to_date(explain(project, [str(DOIT_SCRIPT)])), "the editable install did not change"


def test_a_project_that_is_another_checkout(project):
    """`python -m doit` imports the checkout in the current dir, the console script the installed copy."""
    checkout = project.root / "tft_build"
    shutil.copytree(ROOT / "tft_build", checkout, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        edit_step(checkout)
        by_module = explain(project, [sys.executable, "-m", "doit"])
        assert "code changed: tft_build.steps.serve:train_and_predict" in by_module
        assert up_to_date(explain(project, [str(DOIT_SCRIPT)]))
    finally:
        shutil.rmtree(checkout)
    assert up_to_date(explain(project, [sys.executable, "-m", "doit"]))
