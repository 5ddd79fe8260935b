"""Versions (1): newest first, key metrics with their change against what is live, where each runs."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from mlrelease.registry.compare import BETTER, SAME, WORSE
from mlrelease.registry.types import Version
from mlrelease.tui.modeldata import ModelData
from mlrelease.tui.panes.base import Pane, metric_text
from mlrelease.tui.safe import lit, plain, when
from mlrelease.tui.widgets.table import RegistryTable, Step, column_widths, fit_widths

VERDICT = {
    BETTER: ("▲", "green"),
    WORSE: ("▼", "red"),
    SAME: ("=", "dim"),
}


def delta_cell(version: Version, metric: str, data: ModelData, room: int | None = None) -> Text:
    """The value, then its change against the live version, marked by the metric's goal.

    In a column narrower than that (``room`` cells), the change is rounded to one decimal
    fewer, or, when that does not fit or would read 0, only its mark stays: a number is
    never cut (``▼−0.00`` for −0.009 would say it did not move).
    """
    definition = data.config.metrics.get(metric)
    value = version.metrics.get(metric)
    out = Text(metric_text(definition, metric, value))
    if data.reference is not None and version.version == data.reference[1]:
        out.append(" live", style="dim")
        return out
    cmp = data.against_live.get(version.version)
    delta = next((d for d in cmp.metrics if d.name == metric), None) if cmp else None
    if delta is None or delta.delta is None:
        return out
    symbol, style = VERDICT.get(delta.verdict, ("?", "yellow"))
    change = f" {symbol}" if delta.verdict == SAME else f" {symbol}{delta.render_delta()}"
    if room is not None and out.cell_len + len(change) > room:
        rounded = _rounded(delta.delta, definition.format if definition else None)
        change = f" {symbol}{rounded}" if rounded and out.cell_len + len(rounded) + 2 <= room else f" {symbol}"
    out.append(change, style=style)
    return out


_DECIMALS = re.compile(r"\.(\d+)([f%])")


def _rounded(delta: float, spec: str | None) -> str | None:
    """The change with one decimal fewer, properly rounded (−0.009 → "−0.01"); None when that says 0 or cannot be told."""
    match = _DECIMALS.fullmatch(spec or "")
    if match is None or int(match.group(1)) == 0:
        return None
    text = format(abs(delta), f".{int(match.group(1)) - 1}{match.group(2)}")
    if not any(c in "123456789" for c in text):
        return None  # "0.00" would say it did not move
    return ("+" if delta > 0 else "−") + text


def short_author(author: str | None) -> str | None:
    """``Name <email>`` as the name alone: the table has room for what decides (the e-mail is in lineage)."""
    if not author:
        return author
    name = author.split("<", 1)[0].strip()
    return name or author


class VersionsPane(Pane):
    TAB = "versions"
    FOCUS = "#versions-table"

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Version] = []  # table order (newest first)
        self.marked: list[str] = []

    def compose(self) -> ComposeResult:
        yield RegistryTable(id="versions-table")
        yield Static("", id="versions-note", classes="pane-note")

    def model_changed(self, data: ModelData) -> None:
        super().model_changed(data)
        self.fill()

    def fill(self) -> None:
        data = self.data
        if data is None:
            return
        table = self.query_one("#versions-table", RegistryTable)
        current = self.selected_version()
        self.rows = list(reversed(data.versions))
        labels = [Text("✓"), Text("Version"), Text("Created (UTC)"), Text("Author"), *(lit(m) for m in data.key_metrics), Text("Live in")]
        rows = [self._cells(v, data) for v in self.rows]
        # Version and Live in stay whole; the author, then long metric names, then the time give way.
        metrics = range(4, 4 + len(data.key_metrics))
        steps: list[Step] = [
            ("shrink", 3, 8),
            *(("shrink", i, 12) for i in metrics),
            ("shrink", 2, 10),
            *(("drop", i, 0) for i in reversed(metrics[2:])),  # the first two stay (compare and trend have all)
            ("drop", 3, 0),
        ]
        natural = column_widths(labels, rows)
        widths = fit_widths(natural, self.app.size.width - 3, steps)
        for i in (i for i in metrics if 0 < widths[i] < natural[i]):  # cut columns: marks without figures, never half a number
            for row, version in zip(rows, self.rows, strict=True):
                if row[i].cell_len > widths[i]:
                    row[i] = delta_cell(version, data.key_metrics[i - 4], data, room=widths[i])
        if 0 < widths[2] < natural[2]:  # "2026-11-17 1" is no time: the day alone, under a label that fits
            labels[2] = Text("Created")
            for row, version in zip(rows, self.rows, strict=True):
                row[2] = Text(when(version.created)[:10])
        with self.app.batch_update():
            table.fill(labels, rows, widths)
            names = [v.version for v in self.rows]
            if current in names:
                table.show_row(names.index(current))
        note = Text(f"{len(self.rows)} versions", style="dim")
        if data.reference is not None:
            note.append(f" · deltas against {plain(data.reference[1])}, live in {plain(data.reference[0])}", style="dim")
        else:
            note.append(" · nothing is live yet, so there are no deltas", style="dim")
        hidden = len(data.all_metrics) - len(data.key_metrics)
        if hidden > 0:
            note.append(f" · {hidden} more metric(s) in compare and trend", style="dim")
        if data.problems:
            note.append(f" · problem: {plain(str(data.problems[0]))}", style="yellow")
        self.query_one("#versions-note", Static).update(note)

    def _cells(self, v: Version, data: ModelData) -> list[Text]:
        where = data.placements.get(v.version, ())
        live = Text(", ".join(plain(p.describe()) for p in where)) if where else Text("")
        if v.version in data.rejected:
            live.append(" ✗ rejected" if where else "✗ rejected", style="bold")
        mark = Text("●" if v.version in self.marked else "")
        return [
            mark,
            lit(v.version, "bold" if where else ""),
            Text(when(v.created)),
            lit(short_author(v.author)),
            *(delta_cell(v, m, data) for m in data.key_metrics),
            live,
        ]

    def selected_version(self) -> str | None:
        table = self.query_one("#versions-table", RegistryTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row].version

    def toggle_mark(self) -> list[str]:
        """Mark or unmark the selected version (at most two: a third replaces the oldest)."""
        version = self.selected_version()
        if version is None:
            return self.marked
        if version in self.marked:
            self.marked.remove(version)
        else:
            self.marked.append(version)
            del self.marked[:-2]
        self.fill()
        return self.marked
