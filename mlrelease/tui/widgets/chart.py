"""Small charts drawn with block characters: a sparkline string and a column chart widget.

Drawn here rather than with a plotting library: the figures are short series (versions of
a model, telemetry snapshots), one-line sparklines fit in table cells, and the column
chart needs a y-axis with a round floor below the smallest value, a label per column
where it fits and a mark under some columns (live, rejected). The chart reads the same
in monochrome (NO_COLOR): marks are characters, not colours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
T = TypeVar("T")


def spark(values: Sequence[float]) -> str:
    """One character per value, ▁ (lowest) to █ (highest)."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return "▄" * len(values)
    return "".join(BLOCKS[1 + round((v - lo) / (hi - lo) * 7)] for v in values)


def nice_step(span: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 × 10ⁿ) that cuts ``span`` into about ``ticks`` parts."""
    raw = span / max(1, ticks)
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)


def axis_bounds(lo: float, hi: float) -> tuple[float, float]:
    """A y-axis from a round number *below* the smallest value to one at or above the largest.

    Starting the axis at the minimum drew the lowest version as an empty column; a round
    floor under it gives every value a visible height and keeps differences honest.
    """
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo)
    bottom = math.floor(lo / step) * step
    if bottom >= lo:  # strictly below the smallest value, but never below zero for values that are not
        bottom = bottom - step if lo < 0 else max(0.0, bottom - step)
    top = math.ceil(hi / step) * step
    return bottom, max(top, hi)


def x_labels(labels: Sequence[str], col_w: int) -> Text:
    """One line of labels under the columns: each where it fits without touching the last one, the newest always."""
    span = col_w * len(labels)
    line = [" "] * span
    placed_until = -1
    order = list(range(len(labels)))
    last = order.pop()  # the newest is placed first (kept inside the line), then the rest left to right
    text = labels[last][: max(1, span)]
    start = max(0, min(last * col_w, span - len(text)))
    line[start : start + len(text)] = text
    right_edge = start
    for i in order:
        text = labels[i]
        at = i * col_w
        if at > placed_until and at + len(text) < right_edge:
            line[at : at + len(text)] = text
            placed_until = at + len(text)
    return Text("".join(line))


@dataclass(frozen=True)
class Series:
    """Points in order (oldest first): a label each, a value or None (a gap), and marks.

    ``marks`` maps a point's index to one character drawn under its column (e.g. ``L``
    for a version live somewhere, ``✗`` for a rejected one); ``legend`` explains them.
    """

    title: Text
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    fmt: Callable[[float], str]
    marks: Mapping[int, str] = field(default_factory=dict)
    note: str = ""


class Plot:
    """A Rich renderable: a title, then ``values`` drawn in ``height`` rows on a y-axis with a
    round floor (:func:`axis_bounds`), or a line saying there is nothing to draw.

    Subclasses draw the rows in :meth:`draw`, given the axis and the width they have.
    """

    def __init__(self, title: Text, values: Iterable[float | None], height: int) -> None:
        self.title = title
        self.known = [v for v in values if v is not None]
        self.height = max(3, height)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.title
        if not self.known:
            yield Text("no values to chart", style="dim italic")
            return
        yield from self.draw(*axis_bounds(min(self.known), max(self.known)), options.max_width)

    def draw(self, bottom: float, top: float, width: int) -> RenderResult:
        raise NotImplementedError


class ColumnChart(Plot):
    """One column per point on a y-axis with a round floor, versions labelled below."""

    def __init__(self, series: Series, height: int) -> None:
        super().__init__(series.title, series.values, height)
        self.series = series

    def draw(self, bottom: float, top: float, width: int) -> RenderResult:
        s = self.series
        ticks = {self.height - 1: s.fmt(top), 0: s.fmt(bottom), (self.height - 1) // 2: s.fmt((top + bottom) / 2)}
        lw = max(len(t) for t in ticks.values())
        plot_w = max(4, width - lw - 2)
        points = list(zip(s.labels, s.values, strict=True))
        first = 0
        widest = max((len(label) for label, _ in points), default=1)
        col_w = max(1, min(widest + 1, 8, plot_w // max(1, len(points))))
        fits = max(1, plot_w // col_w)
        if len(points) > fits:
            first = len(points) - fits  # keep the most recent points
            points = points[first:]
        levels = self.height * 8
        heights = [None if v is None else max(1, round((v - bottom) / (top - bottom) * levels)) for _, v in points]
        bar_w = max(1, col_w - 1) if col_w > 2 else col_w
        for row in range(self.height - 1, -1, -1):
            line = Text(ticks.get(row, "").rjust(lw) + " ┤" if row in ticks else " " * lw + " │", style="dim")
            for i, h in enumerate(heights):
                if h is None:
                    cell = "·" if row == 0 else " "
                else:
                    filled = h - row * 8
                    cell = "█" if filled >= 8 else BLOCKS[filled] if filled > 0 else " "
                line.append(cell * bar_w, style="bold cyan" if (i + first) in s.marks else "cyan")
                line.append(" " * (col_w - bar_w))
            yield line
        yield Text(" " * lw + " └" + "─" * (col_w * len(points)), style="dim")
        if s.marks:
            marks = "".join(s.marks.get(i + first, " ").ljust(col_w) for i in range(len(points)))
            yield Text(" " * (lw + 2) + marks, style="bold")
        yield Text(" " * (lw + 2)).append_text(x_labels([label for label, _ in points], col_w))
        if first:
            yield Text(f"the {len(points)} newest of {len(s.values)} points", style="dim italic")
        if s.note:
            yield Text(s.note, style="dim italic")


class ChartBox(Widget, Generic[T]):
    """A chart widget: it draws the figure given to :meth:`show` (None: nothing) in the
    height of its box, again whenever the box is resized."""

    DEFAULT_CSS = """
    ChartBox {
        width: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.shown: T | None = None

    def show(self, figure: T | None) -> None:
        self.shown = figure
        self.refresh()

    def render(self) -> RenderableType:
        return Text("") if self.shown is None else self.draw(self.shown, self.content_region.height)

    def draw(self, figure: T, height: int) -> RenderableType:
        raise NotImplementedError


class Chart(ChartBox[Series]):
    """A column chart that fills its box; give it a :class:`Series` with :meth:`show`."""

    DEFAULT_CSS = """
    Chart {
        height: 14;
    }
    """

    def draw(self, figure: Series, height: int) -> ColumnChart:
        extra = 3 + (1 if figure.note else 0) + (1 if figure.marks else 0) + 1  # title, axis, labels, note, marks, "newest of"
        return ColumnChart(figure, height - extra)
