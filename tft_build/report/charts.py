"""SVG charts drawn by hand, so the report's page needs no plotting library and no network.

:func:`line_chart` (a model's loss per epoch), :func:`bar_chart` (each
model's quality against its references) and :func:`histogram_chart` (a
column's training and eval histograms overlaid), with axes at round ticks
(:func:`nice_ticks`), hover titles and a legend. Styled by the page's CSS
(``svg.chart``).
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from tft_build.report.htmlkit import esc, fmt, tag, unique

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def line_chart(
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    x_label: str = "epoch",
    y_label: str = "",
    marker: tuple[float, str] | None = None,
    width: int = 640,
    height: int = 300,
) -> str:
    """An SVG line chart of ``series`` (``{name: [y at x=1, 2, ...]}``) with axes, ticks and a legend.

    ``marker`` is ``(x, label)``: a dashed vertical line, say at the best
    epoch. Non-finite values (a diverged loss) are left out.
    """
    left, right, top, bottom = 64, width - 16, 48, height - 44
    length = max((len(values) for values in series.values()), default=1)
    finite = [v for values in series.values() for v in values if math.isfinite(v)] or [0.0]
    xs, ys = nice_ticks(1, max(length, 2), integers=True), nice_ticks(min(finite), max(finite))
    sx, sy = scale(xs[0], xs[-1], left, right), scale(ys[0], ys[-1], bottom, top)
    middle = (top + bottom) / 2
    parts = [
        *(tag("line", x1=left, x2=right, y1=sy(y), y2=sy(y), class_="grid") for y in ys),
        *(text(left - 6, sy(y) + 4, fmt(y), text_anchor="end") for y in ys),
        *(text(sx(x), bottom + 16, fmt(x), text_anchor="middle") for x in xs),
        tag("polyline", points=f"{left},{top} {left},{bottom} {right},{bottom}", fill="none", class_="axis"),
        text((left + right) / 2, height - 8, x_label, text_anchor="middle"),
        text(14, middle, y_label, text_anchor="middle", transform=f"rotate(-90 14 {middle})"),
    ]
    for i, (name, values) in enumerate(series.items()):
        points = [(sx(x), sy(y), x, y) for x, y in enumerate(values, start=1) if math.isfinite(y)]
        parts.append(tag("polyline", points=" ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points),
                         fill="none", stroke=colour(i), stroke_width=2))
        parts += [tag("circle", tag("title", esc(f"{name}, {x_label} {x}: {fmt(y)}")), cx=f"{px:.1f}",
                      cy=f"{py:.1f}", r=2.5, fill=colour(i)) for px, py, x, y in points]
    if marker and xs[0] <= marker[0] <= xs[-1]:
        at, label = sx(marker[0]), marker[1]
        near_right = at > (left + right) / 2  # keep the label inside the plot
        parts += [tag("line", x1=at, x2=at, y1=top, y2=bottom, stroke="#555", stroke_dasharray="4 3"),
                  text(at - 4 if near_right else at + 4, top + 12, label,
                       text_anchor="end" if near_right else "start")]
    return svg(width, height, title, "".join(parts) + legend(list(series), left, 36))


def bar_chart(groups: Mapping[str, Mapping[str, float]], *, title: str = "", width: int = 640) -> str:
    """An SVG horizontal bar chart: for each group (say a model), one bar per series, with a legend.

    ``groups`` is ``{group: {series: value}}``; a series keeps its colour
    across groups.
    """
    names = unique(name for bars in groups.values() for name in bars)
    bar, gap = 16, 14
    left = min(200, 16 + 7 * max(len(g) for g in groups))
    right, top = width - 64, 48
    bottom = top + sum(len(bars) * bar + gap for bars in groups.values())
    xs = nice_ticks(0, max([0.0, *(v for bars in groups.values() for v in bars.values())]))
    sx = scale(xs[0], xs[-1], left, right)
    parts = [*(tag("line", x1=sx(x), x2=sx(x), y1=top, y2=bottom, class_="grid") for x in xs),
             *(text(sx(x), bottom + 16, fmt(x), text_anchor="middle") for x in xs)]
    y = top + gap / 2
    for group, bars in groups.items():
        parts.append(text(left - 8, y + len(bars) * bar / 2 + 4, group, text_anchor="end"))
        for name, value in bars.items():
            x0, x1 = sorted((sx(0), sx(value)))
            parts += [tag("rect", tag("title", esc(f"{group} {name}: {fmt(value)}")), x=f"{x0:.1f}", y=y + 1,
                          width=f"{x1 - x0:.1f}", height=bar - 2, fill=colour(names.index(name))),
                      text(x1 + 4, y + bar - 4, fmt(value))]
            y += bar
        y += gap
    parts.append(tag("line", x1=sx(0), x2=sx(0), y1=top, y2=bottom, class_="axis"))
    return svg(width, bottom + 28, title, "".join(parts) + legend(names, left, 36))


def histogram_chart(
    edges: Sequence[float], series: Mapping[str, Sequence[float]], *, title: str = "", width: int = 640,
    height: int = 220,
) -> str:
    """An SVG histogram of each series (``{name: [share per bin]}``) on the same ``edges``, overlaid
    half-transparent, so that two distributions compare at a glance."""
    left, right, top, bottom = 56, width - 16, 48, height - 36
    shares = [v for values in series.values() for v in values] or [0.0]
    ys = nice_ticks(0, max(shares))
    span = edges[-1] - edges[0] or 1.0  # one value: one bin, drawn a unit wide
    sx, sy = scale(edges[0], edges[0] + span, left, right), scale(ys[0], ys[-1], bottom, top)
    ticks = [edges[0], edges[len(edges) // 2], edges[-1]]
    parts = [
        *(tag("line", x1=left, x2=right, y1=sy(y), y2=sy(y), class_="grid") for y in ys),
        *(text(left - 6, sy(y) + 4, f"{y:.0%}", text_anchor="end") for y in ys),
        *(text(sx(x), bottom + 16, fmt(x), text_anchor="middle") for x in ticks),
        tag("polyline", points=f"{left},{top} {left},{bottom} {right},{bottom}", fill="none", class_="axis"),
    ]
    for i, (name, values) in enumerate(series.items()):
        for low, high, share in zip(edges, edges[1:], values):
            x0, x1 = sx(low), max(sx(high), sx(low) + 1)
            parts.append(tag("rect", tag("title", esc(f"{name} {fmt(low)} to {fmt(high)}: {share:.1%}")),
                             x=f"{x0:.1f}", y=f"{sy(share):.1f}", width=f"{x1 - x0:.1f}",
                             height=f"{bottom - sy(share):.1f}", fill=colour(i), fill_opacity="0.5"))
    return svg(width, height, title, "".join(parts) + legend(list(series), left, 36))


def svg(width: int, height: int, title: str, content: str) -> str:
    """An inline SVG chart element with a title line (and an accessible name)."""
    return tag("svg", tag("title", esc(title)) + text(8, 18, title, font_weight="bold") + content,
               xmlns="http://www.w3.org/2000/svg", viewBox=f"0 0 {width} {height}", width=width,
               height=height, role="img", class_="chart", aria_label=title)


def text(x: float, y: float, words: str, **attrs: object) -> str:
    """An SVG ``<text>`` element at (x, y); ``words`` are escaped."""
    return tag("text", esc(words), x=f"{x:.1f}", y=f"{y:.1f}", **attrs)


def legend(names: Iterable[str], x: float, y: float) -> str:
    """A row of colour swatches and series names, starting at (x, y)."""
    parts = []
    for i, name in enumerate(names):
        parts += [tag("rect", x=x, y=y - 9, width=14, height=10, fill=colour(i)), text(x + 18, y, name)]
        x += 36 + 7 * len(name)
    return "".join(parts)


def colour(index: int) -> str:
    """The colour of the ``index``-th series of a chart."""
    return PALETTE[index % len(PALETTE)]


def scale(lo: float, hi: float, start: float, end: float) -> Callable[[float], float]:
    """The linear map of values ``lo..hi`` onto pixels ``start..end``."""
    return lambda v: start + (v - lo) / (hi - lo) * (end - start)


def nice_ticks(lo: float, hi: float, count: int = 5, integers: bool = False) -> list[float]:
    """Round tick values from at or below ``lo`` to at or above ``hi``, about ``count`` steps.

    A step is 1, 2 or 5 times a power of ten (at least 1 with ``integers``),
    so the labels read well. An empty range is widened around its value.
    """
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi), 1.0):
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / count
    exponent = math.floor(math.log10(raw))
    mantissa = next(m for m in (1, 2, 5, 10) if m * 10.0**exponent >= raw)
    if integers and exponent < 0:
        mantissa, exponent = 1, 0
    step = mantissa * 10.0**exponent
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    # Dividing by an exact power of ten, not multiplying by 0.1, keeps 0.3 from printing as 0.30000000000000004.
    if exponent < 0:
        return [i * mantissa / 10**-exponent for i in range(first, last + 1)]
    return [float(i * mantissa * 10**exponent) for i in range(first, last + 1)]
