"""Small charts drawn with block characters: a sparkline string and a column chart widget.

Drawn here rather than with a plotting library: the figures are short series (versions of
a model, telemetry snapshots), one-line sparklines fit in table cells, and the column
chart needs only y-axis bounds, x labels at both ends and marked points. The chart reads
the same in monochrome (NO_COLOR): marked columns use a different glyph, not only colour.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


def spark(values: Sequence[float]) -> str:
    """One character per value, ▁ (lowest) to █ (highest)."""
    if not values:
        return ""
    lo, hi = min(values), max(values)
    if hi == lo:
        return "▄" * len(values)
    return "".join(BLOCKS[1 + round((v - lo) / (hi - lo) * 7)] for v in values)


@dataclass(frozen=True)
class Series:
    """Points in order (oldest first): a label each, a value or None (a gap), marked indices."""

    title: Text
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    fmt: Callable[[float], str]
    marked: frozenset[int] = frozenset()  # e.g. the versions live somewhere
    note: str = ""


class ColumnChart:
    """A Rich renderable: one column per point, scaled between the series' min and max."""

    def __init__(self, series: Series, height: int) -> None:
        self.series = series
        self.height = max(3, height)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        s = self.series
        yield s.title
        known = [v for v in s.values if v is not None]
        if not known:
            yield Text("no values to chart", style="dim italic")
            return
        lo, hi = min(known), max(known)
        top, bottom = s.fmt(hi), s.fmt(lo)
        lw = max(len(top), len(bottom))
        plot_w = max(4, options.max_width - lw - 2)
        points = list(zip(s.labels, s.values, strict=True))
        first = 0
        if len(points) > plot_w:
            first = len(points) - plot_w  # keep the most recent points
            points = points[first:]
        col_w = max(1, min(3, plot_w // len(points)))
        levels = self.height * 8
        heights = []
        for v in (p[1] for p in points):
            if v is None:
                heights.append(None)
            elif hi == lo:
                heights.append(levels // 2)
            else:
                heights.append(max(1, round((v - lo) / (hi - lo) * (levels - 1)) + 1))
        for row in range(self.height - 1, -1, -1):
            label = top if row == self.height - 1 else bottom if row == 0 else ""
            line = Text(label.rjust(lw) + " │", style="dim")
            for i, h in enumerate(heights):
                marked = (i + first) in s.marked
                if h is None:
                    cell = "·" if row == 0 else " "
                else:
                    filled = h - row * 8
                    cell = "█" if filled >= 8 else BLOCKS[filled] if filled > 0 else " "
                    if marked and cell == "█":
                        cell = "▓"
                line.append(cell * col_w, style="bold cyan" if marked else "cyan")
            yield line
        axis = Text(" " * lw + " └" + "─" * (col_w * len(points)), style="dim")
        yield axis
        left, right = points[0][0], points[-1][0]
        span = col_w * len(points)
        gap = max(1, span - len(left) - len(right))
        yield Text(" " * (lw + 2) + left + " " * gap + (right if len(points) > 1 else ""), style="dim")
        if s.note:
            yield Text(s.note, style="dim italic")


class Chart(Widget):
    """A column chart that fills its box; give it a :class:`Series` with :meth:`show`."""

    DEFAULT_CSS = """
    Chart {
        height: 14;
        width: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._series: Series | None = None

    def show(self, series: Series | None) -> None:
        self._series = series
        self.refresh()

    def render(self) -> ColumnChart | Text:
        if self._series is None:
            return Text("")
        extra = 3 + (1 if self._series.note else 0)  # title, axis, labels, note
        return ColumnChart(self._series, self.content_region.height - extra)
