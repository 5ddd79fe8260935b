"""Two series on one chart: champion and challenger side by side per point, one y-axis.

The A/B tab compares two arms over the same days; drawing them as two charts would give
them two axes and invite comparing heights that mean different things. Here each point
has two columns, ``█`` for the champion and ``▒`` for the challenger (told apart without
colour, as NO_COLOR asks), on the axis of :func:`~mlrelease.tui.widgets.chart.axis_bounds`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import RenderResult
from rich.text import Text

from mlrelease.tui.widgets.chart import BLOCKS, ChartBox, Plot, x_labels

CHAMPION, CHALLENGER = "█", "▒"


@dataclass(frozen=True)
class Pair:
    """Points in order: a label each and both arms' values (None: no figure that day)."""

    title: Text
    labels: tuple[str, ...]
    champion: tuple[float | None, ...]
    challenger: tuple[float | None, ...]
    fmt: Callable[[float], str]
    legend: str = ""  # e.g. "█ 2.1.0 (champion)  ▒ 2.2.0 (challenger)"


def _cell(value_height: int | None, row: int, glyph: str) -> str:
    if value_height is None:
        return "·" if row == 0 else " "
    filled = value_height - row * 8
    if filled >= 8:
        return glyph
    if filled <= 0:
        return " "
    return BLOCKS[filled] if glyph == CHAMPION else "░"


class PairRender(Plot):
    """Both arms' columns side by side per point, on one axis."""

    def __init__(self, pair: Pair, height: int) -> None:
        super().__init__(pair.title, (*pair.champion, *pair.challenger), height)
        self.pair = pair

    def draw(self, bottom: float, top: float, width: int) -> RenderResult:
        p = self.pair
        ticks = {self.height - 1: p.fmt(top), 0: p.fmt(bottom)}
        lw = max(len(t) for t in ticks.values())
        plot_w = max(6, width - lw - 2)
        col_w = max(3, min(8, plot_w // max(1, len(p.labels))))
        points = list(range(len(p.labels)))[-max(1, plot_w // col_w) :]
        levels = self.height * 8

        def height(v: float | None) -> int | None:
            return None if v is None else max(1, round((v - bottom) / (top - bottom) * levels))

        a = [height(p.champion[i]) for i in points]
        b = [height(p.challenger[i]) for i in points]
        for row in range(self.height - 1, -1, -1):
            line = Text(ticks.get(row, "").rjust(lw) + (" ┤" if row in ticks else " │"), style="dim")
            for ha, hb in zip(a, b, strict=True):
                line.append(_cell(ha, row, CHAMPION), style="cyan")
                line.append(_cell(hb, row, CHALLENGER), style="magenta")
                line.append(" " * (col_w - 2))
            yield line
        yield Text(" " * lw + " └" + "─" * (col_w * len(points)), style="dim")
        yield Text(" " * (lw + 2)).append_text(x_labels([p.labels[i] for i in points], col_w))
        if p.legend:
            yield Text(p.legend, style="dim")


class PairChart(ChartBox[Pair]):
    """A chart of two arms that fills its box; give it a :class:`Pair` with :meth:`show`."""

    DEFAULT_CSS = """
    PairChart {
        height: 12;
    }
    """

    def draw(self, figure: Pair, height: int) -> PairRender:
        return PairRender(figure, height - 4)
