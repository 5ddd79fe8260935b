"""The one table every list uses: row cursor, j/k/g/G beside the arrows, literal cells only.

Cells must be ``rich.text.Text`` (see :mod:`mlrelease.tui.safe`): a ``str`` cell would be
parsed as markup by ``DataTable``. Tables are filled through :meth:`RegistryTable.fill`:

* column widths are computed here from the cells' lengths, once per fill, so columns do
  not jump as rows arrive; a cell longer than its column ends in "…" (a reason cut at a
  word boundary would read as the whole reason);
* rows are added a page at a time, the next page when the cursor or the scroll nears the
  end: ``DataTable`` measures and lays out every cell of every row it holds, which for a
  thousand models costs more than a keystroke may.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from mlrelease.tui import keys

MAX_CELL = 64  # a longer cell is cut at the column's edge; the full text is in the detail views
PAGE = 60  # rows added at a time (a screenful and some)


def column_widths(labels: Sequence[Text], rows: Sequence[Sequence[Text]], caps: Sequence[int] | None = None) -> list[int]:
    """The longest cell of each column, at most its cap (``MAX_CELL`` unless ``caps`` says)."""
    widths = [label.cell_len for label in labels]
    for row in rows:
        for i, cell in enumerate(row):
            n = cell.cell_len
            if n > widths[i]:
                widths[i] = n
    limits = caps or [MAX_CELL] * len(widths)
    return [min(w, limit) for w, limit in zip(widths, limits, strict=True)]


Step = tuple[str, int, int]  # ("shrink", column, to at least) or ("drop", column, 0)
GAP = 2  # cells between DataTable columns (its default cell padding)


def fit_widths(widths: Sequence[int], room: int, steps: Sequence[Step], *, gap: int = GAP) -> list[int]:
    """Widths that fit in ``room`` cells, taking ``steps`` in order until they do; 0 means the column is left out.

    Layouts give way from what matters least: e.g. shrink the owner, then drop it, then
    the headline, and only then cut the status. Columns no step names keep their width.
    """
    out = list(widths)

    def total() -> int:
        return sum(w + gap for w in out if w > 0)

    for action, column, floor in steps:
        over = total() - room
        if over <= 0:
            break
        if action == "drop":
            out[column] = 0
        elif out[column] > floor:
            out[column] -= min(over, out[column] - floor)
    return out


def fit_screen(widths: Sequence[int], room: int) -> list[int]:
    """Widths that fit in ``room``: the last column shrinks to 12 first, then the widest ones to 8, in turn."""
    last = len(widths) - 1
    by_width = sorted(range(len(widths)), key=lambda i: -widths[i])
    return fit_widths(widths, room, [("shrink", last, 12), *(("shrink", i, 8) for i in by_width)])


def shown_columns(widths: Sequence[int], *columns: Sequence[Text]) -> list[list[Text]]:
    """Each row of ``columns`` without the cells of left-out (width 0) columns."""
    keep = [i for i, w in enumerate(widths) if w > 0]
    return [[row[i] for i in keep] for row in columns]


class RegistryTable(DataTable[object]):
    BINDINGS = keys.bindings("table")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=True)
        self._pending: list[Sequence[Text]] = []

    def fill(self, labels: Sequence[Text], rows: Sequence[Sequence[Text]], widths: Sequence[int] | None = None) -> None:
        """Replace columns and rows; 0 in ``widths`` leaves a column out.

        ``widths`` (one per column) defaults to the longest cell's, fitted to the screen's
        width: the last column, then the widest, give way (their cells end in "…"), so a
        table never scrolls sideways with a scrollbar's glyphs drawn after its last column.
        """
        widths = list(widths) if widths is not None else fit_screen(column_widths(labels, rows), self.app.size.width - 3)
        for row in rows:
            for cell in row:  # one line per row: a cell that does not fit ends in "…", never at its last whole word
                cell.no_wrap, cell.overflow = True, "ellipsis"
        if 0 in widths:
            labels, *kept = shown_columns(widths, labels, *rows)
            rows, widths = kept, [w for w in widths if w > 0]
        with self.app.batch_update():
            self.clear(columns=True)
            for label, width in zip(labels, widths, strict=True):
                self.add_column(label, width=width)
            self._pending = list(rows[PAGE:])
            self.add_rows(rows[:PAGE])

    @property
    def total_rows(self) -> int:
        """Rows in the table plus those not added yet."""
        return self.row_count + len(self._pending)

    def load_until(self, row: int) -> None:
        """Make sure row ``row`` and a page after it are in the table."""
        missing = row + PAGE // 2 - self.row_count
        if missing > 0 and self._pending:
            count = max(missing, PAGE)
            batch, self._pending = self._pending[:count], self._pending[count:]
            self.add_rows(batch)

    def show_row(self, row: int) -> None:
        self.load_until(row)
        if row < self.row_count:
            self.move_cursor(row=row, animate=False)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.load_until(event.cursor_row)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._pending and new_value + 2 * self.size.height >= self.virtual_size.height:
            self.load_until(self.row_count)

    def action_scroll_top(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        if self._pending:
            self.add_rows(self._pending)
            self._pending = []
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)
