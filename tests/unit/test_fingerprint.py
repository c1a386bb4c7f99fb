"""Code fingerprints: meaning counts, formatting does not; references are followed."""

import ast
import subprocess
import sys
import textwrap
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tft_build.engine import fingerprint as fp


def project(tmp_path, **modules):
    """Write the modules into a fresh dir under tmp_path; returns that dir.

    ``{a}`` in a module's source stands for the module name ``a``.
    """
    root = tmp_path / uuid.uuid4().hex
    root.mkdir()
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source).format(**{n: n for n in modules}))
    return root


def digest(tmp_path, target, **modules):
    return fp.fingerprint([target], [project(tmp_path, **modules)])


BASE = '''
import math

SCALE = 2.0
UNUSED = 1

def helper(x):
    """Doubles x."""
    return x * SCALE

def other(x):
    return x - 1

def main(x):
    """The function under test."""
    return helper(x) + math.sqrt(x)
'''


def test_comments_docstrings_and_formatting_do_not_count(tmp_path):
    edited = BASE.replace('"""Doubles x."""', '"""Doubles x, twice as well documented."""')
    edited = edited.replace("def main(x):", "# a comment\n\n\ndef main( x ):  # trailing")
    edited = edited.replace("return helper(x) + math.sqrt(x)", "return (helper(x)\n            + math.sqrt(x))")
    assert digest(tmp_path, "m:main", m=BASE).digest == digest(tmp_path, "m:main", m=edited).digest


NESTED = '''
"""Module."""
if True:
    def a():
        """A."""
        class B:
            """B."""
            async def c(self):
                """C."""
                return "not a docstring"
try:
    def d():
        "D."
        x = 1
except ImportError:
    def e():
        """E."""
finally:
    def f():
        """F."""
        with open("x") as g:
            def h():
                """H."""
match 1:
    case 1:
        def i():
            """I."""
def j():
    """J."""
    [k for k in "a"]
    lambda: "not a docstring"
'''


def test_docstrings_are_stripped_wherever_a_definition_is():
    stripped = fp.strip_docstrings(ast.parse(NESTED))
    texts = {n.value for n in ast.walk(stripped) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert texts == {"not a docstring", "x", "a"}
    assert sum(isinstance(node, ast.Pass) for node in ast.walk(stripped)) == 3  # e, h, i: bodies that were a docstring


def test_unreferenced_code_does_not_count(tmp_path):
    edited = BASE.replace("return x - 1", "return x - 2").replace("UNUSED = 1", "UNUSED = 3")
    assert digest(tmp_path, "m:main", m=BASE).digest == digest(tmp_path, "m:main", m=edited).digest


def test_referenced_helpers_and_constants_count(tmp_path):
    base = digest(tmp_path, "m:main", m=BASE)
    assert set(base.definitions) == {"m:main", "m:helper", "m:SCALE"}
    assert base.externals == {"python": sys.version.split()[0]}
    for edit in (("SCALE = 2.0", "SCALE = 3.0"), ("return x * SCALE", "return x + SCALE")):
        assert digest(tmp_path, "m:main", m=BASE.replace(*edit)).digest != base.digest


def test_third_party_code_counts_by_version(tmp_path):
    result = digest(tmp_path, "m:main", m="import numpy as np\ndef main(x):\n    return np.sqrt(x)\n")
    import numpy

    assert result.externals == {"numpy": numpy.__version__}
    assert list(result.definitions) == ["m:main"]


def test_helpers_in_other_project_modules_count(tmp_path):
    modules = {
        "a": "from {b} import helper\nimport {b} as bee\ndef main(x):\n    return helper(x) + bee.K\n",
        "b": "K = 1\ndef helper(x):\n    return x + 1\ndef unrelated():\n    return 0\n",
    }
    base = digest(tmp_path, "a:main", **modules)
    same = digest(tmp_path, "a:main", **{**modules, "b": modules["b"].replace("return 0", "return 5")})
    changed = digest(tmp_path, "a:main", **{**modules, "b": modules["b"].replace("x + 1", "x + 2")})
    constant = digest(tmp_path, "a:main", **{**modules, "b": modules["b"].replace("K = 1", "K = 2")})
    assert base.digest == same.digest
    assert len({base.digest, changed.digest, constant.digest}) == 3


def test_cycles_are_visited_once(tmp_path):
    modules = {
        "a": "from {b} import pong\ndef ping(n):\n    return pong(n - 1) if n else 0\n",
        "b": "def pong(n):\n    from {a} import ping\n    return ping(n)\n",
    }
    result = digest(tmp_path, "a:ping", **modules)
    assert set(result.definitions) == {"a:ping", "b:pong"}
    from_b = digest(tmp_path, "b:pong", **modules)  # through the import inside pong
    assert set(from_b.definitions) == {"a:ping", "b:pong"}


def test_dynamic_lookups_fall_back_to_the_whole_module(tmp_path):
    modules = {
        "a": "import {b}\ndef main(name):\n    return getattr({b}, name)()\n",
        "b": "def one():\n    return 1\ndef two():\n    return 2\n",
    }
    base = digest(tmp_path, "a:main", **modules)
    changed = digest(tmp_path, "a:main", **{**modules, "b": modules["b"].replace("return 2", "return 3")})
    assert base.digest != changed.digest
    star = {"a": "from {b} import *\ndef main():\n    return two()\n", "b": modules["b"]}
    star_changed = {**star, "b": modules["b"].replace("return 2", "return 3")}
    assert digest(tmp_path, "a:main", **star).digest != digest(tmp_path, "a:main", **star_changed).digest
    glob = "def main(name):\n    return globals()[name]()\n\ndef two():\n    return 2\n"
    assert digest(tmp_path, "a:main", a=glob).digest != digest(tmp_path, "a:main", a=glob.replace("2", "3")).digest


def test_fingerprinting_the_taxi_code_imports_no_tensorflow():
    code = (
        "import sys\n"
        "from tft_build.engine.fingerprint import fingerprint\n"
        "f = fingerprint(['tft_build.examples.taxi.preprocessing:preprocessing_fn',"
        " 'tft_build.steps.train:train_model', 'tft_build.steps.transform:transform_raw_data',"
        " 'tft_build.steps.serve:train_and_predict'], [])\n"
        "assert 'tft_build.generic.preprocessing:hour_weekday_days' in f.definitions\n"
        "assert 'tensorflow' in f.externals and 'apache_beam' in f.externals\n"
        "print([m for m in ('tensorflow', 'tensorflow_transform', 'apache_beam', 'tf_keras') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# Random functions: expressions over a parameter, constants and two helpers.
OPERATORS = ["+", "-", "*", "/", "%", "**"]
leaves = st.one_of(st.just("x"), st.integers(0, 99).map(str))
expressions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(OPERATORS), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["g", "h"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
    ),
    max_leaves=8,
)
HELPERS = "def g(y):\n    return y + 1\n\ndef h(y):\n    return y * 3\n\n"


def function_module(expression):
    return HELPERS + f"def f(x):\n    return {expression}\n"


def fingerprint_of(tmp_path, source):
    return digest(tmp_path, "m:f", m=source).digest


@settings(max_examples=60, deadline=None)
@given(expressions, st.lists(st.integers(0, 30), max_size=4), st.text(alphabet="abc #xyz", max_size=12))
def test_comments_and_reformatting_never_change_a_fingerprint(tmp_path_factory, expression, spots, comment):
    tmp_path = tmp_path_factory.mktemp("fp")
    source = function_module(expression)
    lines = source.splitlines()
    for spot in spots:  # comments and blank lines anywhere between statements
        lines.insert(spot % (len(lines) + 1), "" if spot % 2 else f"# {comment}")
    reformatted = "\n".join(lines).replace("return ", "return  ").replace("(", "( ").replace(")", " )") + "\n"
    assert fingerprint_of(tmp_path, source) == fingerprint_of(tmp_path, reformatted)


def mutations(expression):
    """Every single-token change of a constant, an operator or a called name."""
    import re

    for match in re.finditer(r"\b\d+\b", expression):
        yield expression[: match.start()] + str(int(match.group()) + 1) + expression[match.end():]
    for match in re.finditer(r" ([-+*/%]|\*\*) ", expression):
        other = "-" if match.group(1) != "-" else "+"
        yield expression[: match.start()] + f" {other} " + expression[match.end():]
    for match in re.finditer(r"\b([gh])\(", expression):
        other = "h" if match.group(1) == "g" else "g"
        yield expression[: match.start()] + other + expression[match.start() + 1:]


@settings(max_examples=40, deadline=None)
@given(expressions)
def test_changing_a_constant_operator_or_called_name_changes_it(tmp_path_factory, expression):
    tmp_path = tmp_path_factory.mktemp("fp")
    base = fingerprint_of(tmp_path, function_module(expression))
    for mutated in mutations(expression):
        assert fingerprint_of(tmp_path, function_module(mutated)) != base, (expression, mutated)


def test_a_package_re_export_and_a_moved_module_are_followed_to_their_definitions(tmp_path):
    """``from tft_build import generic, models`` (what init-config wrote before the rooms):
    ``generic.numeric`` is a re-export, ``models`` a module that moved; both count as the
    definitions they name, so an edit of either reruns the step."""
    root = project(tmp_path, user='''
        from tft_build import generic, models

        def fn(x):
            return generic.numeric(x), models.model_inputs
        ''')
    names = set(fp.fingerprint(["user:fn"], [root]).definitions)
    assert {"tft_build.generic.preprocessing:numeric", "tft_build.generic.models:model_inputs"} <= names
    assert not any(name.endswith(":*") for name in names)


@pytest.mark.parametrize("top", ["sklearn", "yaml", "google", "absl", "_distutils_hack", "numpy"])
def test_a_module_counts_by_the_distributions_importlib_says_provide_it(top):
    """``sklearn`` has no top_level.txt (its RECORD says), ``google`` is a namespace of many, ``numpy``
    is named as its distribution."""
    import importlib.metadata

    assert sorted(fp.distributions(top)) == sorted(importlib.metadata.packages_distributions()[top])
