"""The README's Layout section is the package's folder tree: every module, and only modules that exist."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def listed_modules():
    """The ``.py`` paths of the README's Layout tree, from its indentation."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout\n\n```\n", 1)[1].split("```", 1)[0]
    stack, paths = [], []
    for line in block.splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        name = line.split()[0]
        stack[depth:] = [name]
        if name.endswith(".py"):
            paths.append("".join(stack))
    return paths


def test_the_layout_lists_every_module_once():
    actual = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tft_build").rglob("*.py") if p.name != "__init__.py")
    listed = [p for p in listed_modules() if p.startswith("tft_build/")]
    assert sorted(listed) == actual
    assert len(set(listed)) == len(listed)


def test_every_line_says_what_it_is():
    block = (ROOT / "README.md").read_text().split("## Layout\n\n```\n", 1)[1].split("```", 1)[0]
    assert all(re.match(r"\s*\S+\s{2,}\S", line) for line in block.splitlines()), "a line without a description"
