"""Building HTML text: tags with escaped attributes, notes, tables, and compact numbers.

What the report's page (:mod:`tft_build.report.html_report`) and its charts
(:mod:`tft_build.report.charts`) are written with; plain strings, no template
engine, so the report needs nothing installed.
"""

import html
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

LIST_ITEMS = 6  # a list value (say a one-hot vector) shows this many items
# A file that is cut short, hand-edited or of an older shape fails with one of these.
MALFORMED = (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError)

T = TypeVar("T")


def tag(name: str, content: str = "", **attrs: object) -> str:
    """``<name attrs>content</name>``; ``content`` is HTML, attribute values are escaped.

    ``class_`` is ``class``, and ``stroke_width`` is ``stroke-width``.
    """
    text = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return f"<{name}{text}>{content}</{name}>"


def esc(value: object) -> str:
    """``value`` as HTML text."""
    return html.escape(str(value))


def note(text_html: str) -> str:
    """A one-line note in place of what is missing."""
    return tag("p", text_html, class_="note")


def table(
    headers: Iterable[str],
    rows: Sequence[Iterable[Any]],
    *,
    row_classes: Sequence[str] | None = None,
    groups: Iterable[tuple[str, int]] = (),
    caption: str = "",
) -> str:
    """An HTML table of ``rows`` (lists of values); numbers are compact and right-aligned.

    ``groups`` is a header row of ``(label, columns)`` spans above the headers.
    The table scrolls sideways in its box instead of widening the page.
    """
    head = tag("tr", "".join(tag("th", esc(label), colspan=span) for label, span in groups)) if groups else ""
    # Long snake_case names may wrap at their underscores instead of widening the column.
    head += tag("tr", "".join(tag("th", esc(h).replace("_", "_<wbr>")) for h in headers))
    classes = row_classes or [""] * len(rows)
    body = "".join(
        tag("tr", "".join(cell(v) for v in row), **({"class_": c} if c else {})) for row, c in zip(rows, classes)
    )
    content = (tag("caption", esc(caption)) if caption else "") + tag("thead", head) + tag("tbody", body)
    return tag("div", tag("table", content), class_="scroll")


def cell(value: Any) -> str:
    """A table cell; numbers right-aligned."""
    return tag("td", esc(fmt(value)), class_="num") if is_number(value) else tag("td", esc(fmt(value)))


def fmt(value: Any) -> str:
    """Compact text of a value: 4 significant digits, thousands separated, lists cut short."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float, list)):
        return str(value)
    if isinstance(value, list):
        more = ", …" if len(value) > LIST_ITEMS else ""
        return "[" + ", ".join(fmt(v) for v in value[:LIST_ITEMS]) + more + "]"
    if isinstance(value, int) or 1e4 <= abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def is_number(value: object) -> bool:
    """Whether ``value`` is an int or a float (a bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def unique(items: Iterable[T]) -> list[T]:
    """``items`` without repeats, in the order they first came."""
    return list(dict.fromkeys(items))
