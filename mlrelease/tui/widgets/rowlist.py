"""A fast list of rows with a fixed header: the overview's table, drawn line by line.

``DataTable`` measures every cell it holds and lays them out on the next idle pass, then
renders each visible cell through Rich: with a thousand models a filter keystroke spent
most of its time there. This widget draws only the lines on screen (Textual's line API),
from rows whose text is joined once and cached as strips, kept across fills by the row's
identity while the column widths stay the same: a filter keystroke shows rows drawn
before (the same cell lists, in another order) and costs the filter plus the lines it
has not drawn yet. Columns have the widths the caller computed.

Keys: the ``table`` scope of :mod:`mlrelease.tui.keys` (↑/↓, j/k, g/G, PgUp/PgDn, Home/End, ←/→); the mouse: a click on a row moves the
cursor there, a second click on it (or a double click) selects it, a click on a header
posts :class:`RowList.HeaderClicked`. Cells must be literal ``rich.text.Text``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlrelease.tui import keys

GAP = 2  # spaces between columns
MARGIN = 1  # space before the first column


class RowList(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    RowList {
        background: $surface;
    }
    RowList > .rowlist--header {
        text-style: bold;
        background: $panel;
    }
    RowList > .rowlist--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
        text-style: bold;
    }
    RowList:blur > .rowlist--cursor {
        background: $block-cursor-blurred-background;
        text-style: none;
    }
    RowList > .rowlist--odd {
        background: $surface-lighten-1 20%;
    }
    """
    COMPONENT_CLASSES = {"rowlist--header", "rowlist--cursor", "rowlist--odd"}
    BINDINGS = keys.bindings("table")  # Enter is the screen's (overview.open), so it can be remapped

    cursor_row: reactive[int] = reactive(0, always_update=True)

    @dataclass
    class Selected(Message):
        row: int

    @dataclass
    class Highlighted(Message):
        row: int

    @dataclass
    class HeaderClicked(Message):
        column: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels: list[Text] = []
        self._widths: list[int] = []
        self._rows: Sequence[Sequence[Text]] = ()
        # Keyed by id() of a row's cell list, the list kept beside so that the id is not reused while cached.
        self._lines: dict[int, tuple[Sequence[Text], Text]] = {}
        self._strips: dict[tuple[int, bool, bool], tuple[Sequence[Text], Strip]] = {}  # (row, cursor, odd)
        self._header: Strip | None = None

    # ---- data ------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def fill(self, labels: Sequence[Text], rows: Sequence[Sequence[Text]], widths: Sequence[int]) -> None:
        """Show ``rows``; the lines of rows shown before (the same cell lists) are reused when the widths are the same.

        A caller that changes a row builds a new cell list for it (cells are never changed in place).
        """
        fitted = [w and max(w, label.cell_len) for w, label in zip(widths, labels, strict=True)]  # 0: left out
        if fitted != self._widths or [a.plain for a in labels] != [b.plain for b in self.labels]:
            self._header = None
        if fitted != self._widths or len(self._lines) > 2 * len(rows) + 200:  # other columns, or rows since replaced
            self._lines.clear()
            self._strips.clear()
        self.labels = list(labels)
        self._widths = fitted
        self._rows = rows
        width = MARGIN + sum(w + GAP for w in self._widths if w)
        self.virtual_size = Size(width, len(rows) + 1)
        self.set_reactive(RowList.cursor_row, min(self.cursor_row, max(0, len(rows) - 1)))
        self.refresh()

    def move_cursor(self, row: int) -> None:
        if self._rows:
            self.cursor_row = max(0, min(row, len(self._rows) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        body = self.size.height - 1
        if body > 0:
            if new < self.scroll_y:
                self.scroll_to(y=new, animate=False)
            elif new >= self.scroll_y + body:
                self.scroll_to(y=new - body + 1, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(new))

    # ---- drawing ---------------------------------------------------------------------------

    def _line_text(self, cells: Sequence[Text]) -> Text:
        line = Text(" " * MARGIN, no_wrap=True, end="")
        for cell, width in zip(cells, self._widths, strict=False):
            if not width:
                continue
            piece = cell.copy()
            piece.truncate(width, overflow="ellipsis", pad=True)
            line.append_text(piece)
            line.append(" " * GAP)
        return line

    def _strip(self, text: Text, style: Style) -> Strip:
        segments = list(text.render(self.app.console))
        return Strip(segments, text.cell_len).apply_style(style)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        base = self.rich_style
        if y == 0:
            if self._header is None:
                style = base + self.get_component_rich_style("rowlist--header")
                self._header = self._strip(self._line_text(self.labels), style)
            return self._header.crop_extend(scroll_x, scroll_x + width, base + self.get_component_rich_style("rowlist--header"))
        row = scroll_y + y - 1
        if row >= len(self._rows):
            return Strip([Segment(" " * width, base)], width)
        cells = self._rows[row]
        cursor = row == self.cursor_row
        key = (id(cells), cursor, not cursor and row % 2 == 1)
        cached = self._strips.get(key)
        if cached is not None:
            strip = cached[1]
        else:
            line = self._lines.get(id(cells))
            text = line[1] if line is not None else self._line_text(cells)
            self._lines[id(cells)] = (cells, text)
            style = base
            if cursor:
                style = base + self.get_component_rich_style("rowlist--cursor")
            elif key[2]:
                style = base + self.get_component_rich_style("rowlist--odd")
            strip = self._strip(text, style)
            self._strips[key] = (cells, strip)
        fill = base + self.get_component_rich_style("rowlist--cursor") if cursor else base
        return strip.crop_extend(scroll_x, scroll_x + width, fill)

    def on_resize(self) -> None:
        self._header = None
        self._strips.clear()

    def _on_focus(self, event: events.Focus) -> None:
        self._strips.clear()
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self._strips.clear()
        self.refresh()

    # ---- keys and mouse ---------------------------------------------------------------------

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + max(1, self.size.height - 2))

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - max(1, self.size.height - 2))

    def action_scroll_top(self) -> None:
        self.move_cursor(0)

    def action_scroll_bottom(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_select(self) -> None:
        if self._rows:
            self.post_message(self.Selected(self.cursor_row))

    def on_click(self, event: events.Click) -> None:
        if event.y == 0:
            x, start = event.x + int(self.scroll_x), MARGIN
            for i, width in enumerate(self._widths):
                if not width:
                    continue
                if start <= x < start + width + GAP:
                    self.post_message(self.HeaderClicked(i))
                    return
                start += width + GAP
            return
        row = int(self.scroll_y) + event.y - 1
        if 0 <= row < len(self._rows):
            if row == self.cursor_row or event.chain > 1:
                self.cursor_row = row
                self.post_message(self.Selected(row))
            else:
                self.cursor_row = row
